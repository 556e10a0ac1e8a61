<?php

declare(strict_types=1);

namespace Creditd\Transport;

use Creditd\Exception\ConnectionFailed;

/** ext-curl; one handle kept for keep-alive between calls. No HTTP proxy. Answers of 16 MiB at most. */
final class CurlTransport implements Transport
{
    /** @var resource|\CurlHandle|null */
    private $handle;

    public function __construct()
    {
        if (!extension_loaded('curl')) {
            throw new \InvalidArgumentException('the curl transport needs ext-curl');
        }
    }

    public function name(): string
    {
        return 'curl';
    }

    public function send(string $method, string $url, array $headers, ?string $body, float $timeout): Response
    {
        Headers::url($url);
        Headers::lines($headers);
        if ($this->handle === null) {
            $this->handle = curl_init();
        } else {
            curl_reset($this->handle);
        }
        $ch = $this->handle;
        $respHeaders = [];
        $raw = '';
        $tooLarge = false;
        $headers[] = 'Expect:'; // no 100-continue round trip
        $ms = max(1, (int) ($timeout * 1000));
        curl_setopt_array($ch, [
            CURLOPT_URL => $url,
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_NOBODY => $method === 'HEAD',
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_MAXFILESIZE => self::MAX_ANSWER_BYTES, // a longer Content-Length fails at once
            CURLOPT_WRITEFUNCTION => static function ($ch, string $data) use (&$raw, &$tooLarge): int {
                if (strlen($raw) + strlen($data) > self::MAX_ANSWER_BYTES) {
                    $tooLarge = true;
                    return 0; // ends the transfer: CURLE_WRITE_ERROR
                }
                $raw .= $data;
                return strlen($data);
            },
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_CONNECTTIMEOUT_MS => $ms,
            CURLOPT_TIMEOUT_MS => $ms,
            CURLOPT_PROXY => '',
            CURLOPT_HEADERFUNCTION => function ($ch, string $line) use (&$respHeaders): int {
                if (preg_match('#^HTTP/\S+\s+\d{3}#', $line)) {
                    $respHeaders = []; // a new answer (after 1xx): its headers only
                } else {
                    $parts = explode(':', $line, 2);
                    if (count($parts) === 2) {
                        $respHeaders[strtolower(trim($parts[0]))] = trim($parts[1]);
                    }
                }
                return strlen($line);
            },
        ]);
        if ($body !== null) {
            curl_setopt($ch, CURLOPT_POSTFIELDS, $body);
        }
        if (curl_exec($ch) === false) {
            $tooLarge = $tooLarge || curl_errno($ch) === CURLE_FILESIZE_EXCEEDED;
            $reason = $tooLarge ? 'an answer over ' . self::MAX_ANSWER_BYTES . ' bytes' : curl_error($ch);
            $this->handle = null; // start afresh after a failure
            throw new ConnectionFailed($reason);
        }
        return new Response((int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE), $raw, $respHeaders);
    }
}
