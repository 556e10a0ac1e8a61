<?php

declare(strict_types=1);

namespace Creditd\Tests;

use Creditd\Exception\ConnectionFailed;
use Creditd\Transport\CurlTransport;
use Creditd\Transport\StreamTransport;
use Creditd\Transport\Transport;
use PHPUnit\Framework\TestCase;

/** Both transports against PHP's built-in server on a loopback port (tests/fixtures/answers.php). */
final class TransportTest extends TestCase
{
    /** @var resource|null */
    private static $server;
    /** @var string */
    private static $base = '';

    public static function setUpBeforeClass(): void
    {
        $probe = stream_socket_server('tcp://127.0.0.1:0');
        $name = stream_socket_get_name($probe, false);
        fclose($probe);
        self::$base = 'http://' . $name;
        self::$server = proc_open([PHP_BINARY, '-S', $name, __DIR__ . '/fixtures/answers.php'],
            [0 => ['file', '/dev/null', 'r'], 1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
        for ($i = 0; $i < 100; $i++) {
            $s = @stream_socket_client('tcp://' . $name, $errno, $error, 0.1);
            if ($s !== false) {
                fclose($s);
                return;
            }
            usleep(50000);
        }
        self::fail('the built-in server did not start');
    }

    public static function tearDownAfterClass(): void
    {
        if (self::$server !== null) {
            proc_terminate(self::$server);
            proc_close(self::$server);
        }
    }

    /** @return Transport[] */
    private static function transports(): array
    {
        return extension_loaded('curl') ? [new StreamTransport(), new CurlTransport()] : [new StreamTransport()];
    }

    public function testAnAnswerIsRead(): void
    {
        foreach (self::transports() as $t) {
            $r = $t->send('POST', self::$base . '/v1/x', ['Idempotency-Key: k-1'], '{}', 5.0);
            $this->assertSame([200, ['path' => '/v1/x', 'key' => 'k-1']], [$r->status, json_decode($r->body, true)],
                $t->name());
        }
    }

    public function testAnAnswerOver16MibIsNoAnswer(): void
    {
        foreach (self::transports() as $t) {
            foreach (['/big-with-length', '/big'] as $path) {
                try {
                    $t->send('GET', self::$base . $path, [], null, 10.0);
                    $this->fail($t->name() . " $path: no exception");
                } catch (ConnectionFailed $e) {
                    $this->assertStringContainsString('16777216', $e->getMessage(), $t->name() . " $path");
                }
            }
            $this->assertSame(200, $t->send('GET', self::$base . '/after', [], null, 5.0)->status, $t->name());
        }
    }
}
