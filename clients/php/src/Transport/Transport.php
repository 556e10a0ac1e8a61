<?php

declare(strict_types=1);

namespace Creditd\Transport;

use Creditd\Exception\ConnectionFailed;

/** Sends one HTTP request. Implementations: CurlTransport, StreamTransport (or your own, e.g. in tests). */
interface Transport
{
    /**
     * The largest answer body a transport reads (16 MiB): a page of 200 journal rows is well under
     * 1 MiB, and a broken or hostile peer must not make the client hold unbounded memory. A longer
     * answer is a ConnectionFailed.
     */
    public const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

    /**
     * @param string[] $headers "Name: value" lines
     * @throws ConnectionFailed when no answer came (refused, timeout, DNS)
     * @throws \InvalidArgumentException before anything is sent, for a URL or header line with a control
     *   or non-ASCII byte (Headers::url(), Headers::lines()): never retried
     */
    public function send(string $method, string $url, array $headers, ?string $body, float $timeout): Response;

    /** "curl", "stream" or your own name. */
    public function name(): string;
}
