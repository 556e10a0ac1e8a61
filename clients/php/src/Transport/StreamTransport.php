<?php

declare(strict_types=1);

namespace Creditd\Transport;

use Creditd\Exception\ConnectionFailed;

/**
 * PHP's http stream wrapper (no extension needed; https needs ext-openssl). No HTTP proxy.
 * Answers of 16 MiB at most.
 */
final class StreamTransport implements Transport
{
    public function name(): string
    {
        return 'stream';
    }

    public function send(string $method, string $url, array $headers, ?string $body, float $timeout): Response
    {
        Headers::url($url);
        Headers::lines($headers);
        $headers[] = 'Connection: close';
        $http = [
            'method' => $method,
            'header' => implode("\r\n", $headers),
            'timeout' => $timeout,
            'ignore_errors' => true,       // read the body of 4xx/5xx answers too
            'follow_location' => 0,
            'protocol_version' => 1.1,
        ];
        if ($body !== null) {
            $http['content'] = $body;
        }
        $context = stream_context_create(['http' => $http]);
        $error = null;
        set_error_handler(function (int $no, string $msg) use (&$error): bool {
            $error = $msg;
            return true;
        });
        try {
            $raw = file_get_contents($url, false, $context, 0, self::MAX_ANSWER_BYTES + 1);
        } finally {
            restore_error_handler();
        }
        $lines = function_exists('http_get_last_response_headers')
            ? (http_get_last_response_headers() ?? [])
            : ($http_response_header ?? []);
        if ($raw === false || !$lines) {
            throw new ConnectionFailed($error ?? 'no answer');
        }
        if (strlen($raw) > self::MAX_ANSWER_BYTES) {
            throw new ConnectionFailed('an answer over ' . self::MAX_ANSWER_BYTES . ' bytes');
        }
        $status = 0;
        $respHeaders = [];
        foreach ($lines as $line) {
            if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) {
                $status = (int) $m[1];
                $respHeaders = [];
            } elseif (strpos($line, ':') !== false) {
                [$name, $value] = explode(':', $line, 2);
                $respHeaders[strtolower(trim($name))] = trim($value);
            }
        }
        return new Response($status, $raw, $respHeaders);
    }
}
