<?php

declare(strict_types=1);

namespace Creditd\Transport;

/** One HTTP answer as a Transport got it. */
final class Response
{
    /** @var int */
    public $status;
    /** @var string */
    public $body;
    /** @var array<string,string> lower-cased names */
    public $headers;

    /** @param array<string,string> $headers */
    public function __construct(int $status, string $body, array $headers = [])
    {
        $this->status = $status;
        $this->body = $body;
        $this->headers = array_change_key_case($headers, CASE_LOWER);
    }
}
