<?php

declare(strict_types=1);

namespace Creditd\Tests;

use Creditd\Exception\ConnectionFailed;
use Creditd\Transport\Response;
use Creditd\Transport\Transport;

/** Answers from a queue (Responses, ConnectionFailed to throw, or callables of the request) and records each request. */
final class FakeTransport implements Transport
{
    /** @var array<int, array{method:string,url:string,headers:array,body:?array,raw:?string}> */
    public $requests = [];
    /** @var array */
    private $queue;

    public function __construct(array $queue = [])
    {
        $this->queue = $queue;
    }

    public function push(...$answers): void
    {
        foreach ($answers as $a) {
            $this->queue[] = $a;
        }
    }

    public static function json(int $status, array $body, array $headers = []): Response
    {
        return new Response($status, (string) json_encode($body), $headers);
    }

    public static function error(int $status, string $type, string $code, array $extra = [], array $headers = []): Response
    {
        return self::json($status, ['error' => ['type' => $type, 'code' => $code, 'message' => 'refused: ' . $code,
                                                'param' => null] + $extra], $headers);
    }

    public function name(): string
    {
        return 'fake';
    }

    public function send(string $method, string $url, array $headers, ?string $body, float $timeout): Response
    {
        $h = [];
        foreach ($headers as $line) {
            [$k, $v] = array_map('trim', explode(':', $line, 2) + [1 => '']);
            $h[strtolower($k)] = $v;
        }
        $request = ['method' => $method, 'url' => $url, 'headers' => $h,
                    'body' => $body === null ? null : json_decode($body, true), 'raw' => $body];
        $this->requests[] = $request;
        if (!$this->queue) {
            throw new \LogicException('no answer queued for ' . $method . ' ' . $url);
        }
        $answer = array_shift($this->queue);
        if (is_callable($answer)) {
            $answer = $answer($request);
        }
        if ($answer instanceof ConnectionFailed) {
            throw $answer;
        }
        return $answer;
    }

    /** The paths (and queries) requested, below http://creditd.test. */
    public function paths(): array
    {
        return array_map(static function (array $r): string {
            return $r['method'] . ' ' . substr($r['url'], strlen('http://creditd.test'));
        }, $this->requests);
    }
}
