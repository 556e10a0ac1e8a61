<?php

declare(strict_types=1);

namespace Creditd\Tests;

use Creditd\Client;
use Creditd\Transport\CurlTransport;
use Creditd\Transport\StreamTransport;
use PHPUnit\Framework\TestCase;

/**
 * A header value goes on the wire only as printable ASCII: a CR or LF in a
 * key would end the header and smuggle a request of its own on a kept-alive
 * connection. Refused with InvalidArgumentException before anything is sent,
 * never retried.
 */
final class HeaderValuesTest extends TestCase
{
    /** @var float[] */
    private $slept = [];

    private function client(FakeTransport $fake, array $options = [], string $key = 'sk_test'): Client
    {
        return new Client('http://creditd.test', $key, $options + [
            'transport' => $fake,
            'sleep' => function (float $s): void {
                $this->slept[] = $s;
            },
        ]);
    }

    public function badKeys(): array
    {
        return [
            'CRLF' => ["k\r\nX-Injected: 1"], 'LF' => ["k\nX-Injected: 1"], 'CR' => ["k\r"], 'NUL' => ["k\0"],
            'DEL' => ["k\x7f"], 'tab' => ["k\tk"], 'UTF-8' => ["k\xc3\xa9"], 'empty' => [''],
            'too long' => [str_repeat('k', 256)],
        ];
    }

    /** @dataProvider badKeys */
    public function testABadIdempotencyKeyIsRefusedBeforeAnythingIsSent(string $key): void
    {
        $fake = new FakeTransport();
        $c = $this->client($fake);
        try {
            $c->grant('a', 5, 'promo', [], $key);
            $this->fail('no exception');
        } catch (\InvalidArgumentException $e) {
            $this->assertStringContainsString('Idempotency-Key', $e->getMessage());
        }
        $this->assertSame([[], []], [$fake->requests, $this->slept], 'nothing sent, nothing retried');
    }

    public function test255PrintableBytesDo(): void
    {
        $fake = new FakeTransport([FakeTransport::json(200, ['id' => 'g'])]);
        $this->client($fake)->grant('a', 5, 'promo', [], str_repeat('k', 255));
        $this->assertSame(str_repeat('k', 255), $fake->requests[0]['headers']['idempotency-key']);
    }

    public function testABadApiKeyOrUserAgentIsRefusedWhenTheClientIsMade(): void
    {
        foreach ([["sk\r\nX-Injected: 1", []], ["sk\0", []], ['sk', ['user_agent' => "app\r\nX-Injected: 1"]],
                  ['sk', ['user_agent' => "app\x1b[1m"]]] as [$key, $options]) {
            try {
                $this->client(new FakeTransport(), $options, $key);
                $this->fail('no exception for ' . json_encode([$key, $options]));
            } catch (\InvalidArgumentException $e) {
                $this->assertStringNotContainsString('sk', $e->getMessage(), 'the key is a secret: never echoed');
            }
        }
    }

    public function testAPathWithControlCharactersOrSpacesIsRefused(): void
    {
        $fake = new FakeTransport();
        $c = $this->client($fake);
        foreach (["/v1/models HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /x", "/v1/a\nb", '/v1/a b'] as $path) {
            try {
                $c->request('GET', $path);
                $this->fail('no exception for ' . json_encode($path));
            } catch (\InvalidArgumentException $e) {
                $this->assertStringContainsString('path', $e->getMessage());
            }
        }
        $this->assertSame([[], []], [$fake->requests, $this->slept]);
    }

    /** The transports refuse such a line themselves, before connecting (nobody listens on port 9). */
    public function testTheTransportsRefuseAControlCharacterInAHeaderLine(): void
    {
        $transports = [new StreamTransport()];
        if (extension_loaded('curl')) {
            $transports[] = new CurlTransport();
        }
        foreach ($transports as $t) {
            foreach ([["Idempotency-Key: k\r\nX-Injected: 1"], ["User-Agent: a\0"], ["X-A: \x7f"]] as $headers) {
                try {
                    $t->send('GET', 'http://127.0.0.1:9/v1/models', $headers, null, 1.0);
                    $this->fail($t->name() . ': no exception');
                } catch (\InvalidArgumentException $e) {
                    $this->assertStringContainsString('header', $e->getMessage());
                }
            }
            try {
                $t->send('GET', "http://127.0.0.1:9/v1/models\r\nX-Injected: 1", [], null, 1.0);
                $this->fail($t->name() . ': no exception for the URL');
            } catch (\InvalidArgumentException $e) {
                $this->assertStringContainsString('URL', $e->getMessage());
            }
        }
    }
}
