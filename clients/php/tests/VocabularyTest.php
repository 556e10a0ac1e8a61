<?php

declare(strict_types=1);

namespace Creditd\Tests;

use Creditd\Client;
use Creditd\Exception\CreditdException;
use Creditd\Transport\Response;
use PHPUnit\Framework\TestCase;

/**
 * The client against the three clients' one vocabulary (clients/vocabulary.json)
 * and creditd's version (configure.ac): a drift between them fails here. The
 * Python (tests/test_vocabulary.py) and Node (test/vocabulary.test.js)
 * suites read the same file.
 */
final class VocabularyTest extends TestCase
{
    private const NS = 'Creditd\\Exception\\';

    private static function vocabulary(): array
    {
        $file = __DIR__ . '/../../vocabulary.json';
        if (!is_file($file)) {
            self::markTestSkipped('clients/vocabulary.json is in creditd\'s source tree only');
        }
        return json_decode((string) file_get_contents($file), true, 64, JSON_THROW_ON_ERROR);
    }

    private static function statusOf(string $key): int
    {
        return ['4xx' => 418, '5xx' => 504][$key] ?? (int) $key;
    }

    public function testEveryClassWithItsParentAndWhetherItIsRetried(): void
    {
        $v = self::vocabulary();
        $base = self::NS . $v['base']['php'];
        foreach ($v['classes'] as $name => $spec) {
            $this->assertTrue(class_exists(self::NS . $name), $name);
            $class = new \ReflectionClass(self::NS . $name);
            $this->assertSame(self::NS . $name, $class->getName(), "$name is its own class, not an alias");
            $parent = $spec['parent'] === null ? $base : self::NS . $spec['parent'];
            $this->assertSame($parent, $class->getParentClass()->getName(), "$name extends $parent");
            $this->assertSame($spec['retried'], $class->getConstant('RETRIED'), "$name::RETRIED");
        }
        foreach ($v['deprecated_classes']['php'] as $old => $new) {
            $this->assertTrue(class_exists(self::NS . $old), $old);
            $this->assertSame(self::NS . $new, (new \ReflectionClass(self::NS . $old))->getName(), "$old is $new");
        }
    }

    public function testAFormerNameCatchesInAProcessThatNeverNamedItBefore(): void
    {
        // A catch clause does not autoload: the alias must exist once the class it names is loaded.
        foreach (self::vocabulary()['deprecated_classes']['php'] as $old => $new) {
            $code = sprintf('require %s; try { throw new %s(400); } catch (%s $e) { echo "caught"; }',
                var_export(__DIR__ . '/../autoload.php', true), '\\' . self::NS . $new, '\\' . self::NS . $old);
            $out = shell_exec(escapeshellarg(PHP_BINARY) . ' -d display_errors=stderr -r ' . escapeshellarg($code));
            $this->assertSame('caught', $out, "catch ($old) catches a $new");
        }
    }

    public function testEveryCodeOfCreditdHasItsClass(): void
    {
        foreach (self::vocabulary()['codes'] as $row) {
            $this->assertSame(self::NS . $row['class'], Client::exceptionClass($row['status'], $row['code']),
                $row['status'] . ' ' . $row['code']);
        }
    }

    public function testACodeUnknownOrWithAnotherStatusGoesByTheStatus(): void
    {
        $statuses = self::vocabulary()['statuses'];
        unset($statuses['about']);
        $withoutCode = self::vocabulary()['without_code'];
        foreach ($statuses as $key => $name) {
            $status = self::statusOf((string) $key);
            $codes = ['no_such_code', $status >= 500 ? 'forbidden' : 'unavailable'];
            if (!isset($withoutCode[(string) $status])) {
                $codes[] = null;
            }
            foreach ($codes as $code) {
                $this->assertSame(self::NS . $name, Client::exceptionClass($status, $code), "$status $code");
            }
        }
        $this->assertSame(CreditdException::class, Client::exceptionClass(302, null));
    }

    public function testAnAnswerWithoutACodeGoesByWithoutCode(): void
    {
        $withoutCode = self::vocabulary()['without_code'];
        $this->assertNotEmpty($withoutCode['about']);
        unset($withoutCode['about']);
        $this->assertSame([429 => 'RateLimited', 502 => 'Unavailable', 503 => 'Unavailable', 504 => 'Unavailable'],
            $withoutCode);
        foreach ($withoutCode as $status => $name) {
            $this->assertSame(self::NS . $name, Client::exceptionClass($status, null), "$status");
            foreach (["<html>$status</html>", '', '{"error":"Bad Gateway"}', '{"error":{"message":"no code"}}', '["x"]'] as $body) {
                $fake = new FakeTransport([new Response($status, $body, ['Retry-After' => '4'])]);
                $c = new Client('http://creditd.test', 'k', ['transport' => $fake, 'max_retries' => 0]);
                try {
                    $c->models();
                    $this->fail('no exception');
                } catch (CreditdException $e) {
                    $this->assertSame(self::NS . $name, get_class($e), "$status $body");
                    $this->assertSame([$status, null, 4], [$e->getStatus(), $e->getErrorCode(), $e->getRetryAfter()]);
                }
            }
        }
        $this->assertFalse(is_a(Client::exceptionClass(429, null), self::NS . 'LimitReached', true));
    }

    public function testACodeOfAny5xxIsItsClassWithEvery5xx(): void
    {
        $any5xx = self::vocabulary()['any_5xx'];
        $this->assertNotEmpty($any5xx['about']);
        unset($any5xx['about']);
        $this->assertSame(['unavailable' => 'Unavailable'], $any5xx);
        foreach ($any5xx as $code => $name) {
            foreach ([500, 502, 503, 504, 599] as $status) {
                $this->assertSame(self::NS . $name, Client::exceptionClass($status, $code), "$status $code");
            }
            foreach ([400, 429] as $status) {
                $this->assertNotSame(self::NS . $name, Client::exceptionClass($status, $code), "$status $code");
            }
        }
    }

    public function testAnAnswerWithoutACodeOrWithACodeOfAny5xxIsRetriedAsItsClass(): void
    {
        $v = self::vocabulary();
        $cases = [];
        foreach ($v['without_code'] as $status => $name) {
            if ($status !== 'about') {
                $cases[] = [(int) $status, null, $name];
            }
        }
        foreach ($v['any_5xx'] as $code => $name) {
            if ($code !== 'about') {
                foreach ([500, 502, 503, 504] as $status) {
                    $cases[] = [$status, $code, $name];
                }
            }
        }
        foreach ($cases as [$status, $code, $name]) {
            $first = $code === null ? new Response($status, "<html><body>$status</body></html>")
                : FakeTransport::error($status, 't', $code);
            $fake = new FakeTransport([$first, FakeTransport::json(200, ['ok' => true])]);
            $c = new Client('http://creditd.test', 'k', ['transport' => $fake, 'max_retries' => 1,
                'retry_delay_ms' => 0, 'sleep' => static function (float $s): void {
                }]);
            try {
                $c->models();
            } catch (CreditdException $e) {
            }
            $this->assertCount($v['classes'][$name]['retried'] ? 2 : 1, $fake->requests, "$status $code");
        }
    }

    public function testOnlyTheClassesMarkedRetriedAreSentAgain(): void
    {
        $v = self::vocabulary();
        foreach ($v['codes'] as $row) {
            $fake = new FakeTransport([FakeTransport::error($row['status'], 't', $row['code']),
                                       FakeTransport::json(200, ['ok' => true])]);
            $c = new Client('http://creditd.test', 'k', ['transport' => $fake, 'max_retries' => 1,
                'retry_delay_ms' => 0, 'sleep' => static function (float $s): void {
                }]);
            try {
                $c->models();
            } catch (CreditdException $e) {
            }
            $this->assertCount($v['classes'][$row['class']]['retried'] ? 2 : 1, $fake->requests,
                $row['status'] . ' ' . $row['code']);
        }
    }

    public function testTheOptionsTheirNamesAndDefaults(): void
    {
        $want = [];
        $given = [];
        foreach (self::vocabulary()['options'] as $opt) {
            $default = $opt['default'];
            if (is_string($default)) {
                $default = strtr($default, ['{language}' => 'php', '{version}' => Client::VERSION]);
            }
            $want[$opt['php']] = $default;
            $given[$opt['php']] = is_string($default) ? 'x' : 7;
        }
        $this->assertSame($want, (new Client('http://creditd.test', 'k'))->getOptions());
        $this->assertSame($given, (new Client('http://creditd.test', 'k', $given))->getOptions());
    }

    public function testANumberOptionIsAWholeNumberWithinItsRange(): void
    {
        foreach (self::vocabulary()['options'] as $opt) {
            if (!isset($opt['min'])) {
                continue;
            }
            [$name, $low, $high] = [$opt['php'], $opt['min'], $opt['max']];
            foreach ([[$low, $low], [$high, $high], [(float) $high, $high], [(string) $high, $high]] as [$given, $want]) {
                $this->assertSame($want, (new Client('http://creditd.test', 'k', [$name => $given]))->getOptions()[$name],
                    "$name => " . var_export($given, true));
            }
            $this->assertSame($opt['default'], (new Client('http://creditd.test', 'k', [$name => null]))->getOptions()[$name],
                "$name => null takes the default");
            foreach ([$low - 1, $high + 1, 2.5, INF, 'abc', '5 ', true, []] as $bad) {
                try {
                    new Client('http://creditd.test', 'k', [$name => $bad]);
                    $this->fail("$name => " . var_export($bad, true) . ' is refused');
                } catch (\InvalidArgumentException $e) {
                    $this->assertStringContainsString($name, $e->getMessage());
                }
            }
        }
    }

    public function testFormerOptionNamesStillWorkConverted(): void
    {
        foreach (self::vocabulary()['deprecated_options']['php'] as $old => $new) {
            $notices = [];
            set_error_handler(static function (int $level, string $message) use (&$notices): bool {
                $notices[] = [$level, $message];
                return true;
            });
            try {
                $options = (new Client('http://creditd.test', 'k', [$old => 3]))->getOptions();
            } finally {
                restore_error_handler();
            }
            $this->assertSame($new['unit'] === 's' ? 3000 : 3, $options[$new['name']], "$old => 3");
            $this->assertSame(E_USER_DEPRECATED, $notices[0][0] ?? null, "$old is deprecated");
        }
    }

    public function testTheVersionIsCreditds(): void
    {
        $composer = json_decode((string) file_get_contents(__DIR__ . '/../composer.json'), true);
        $this->assertArrayNotHasKey('version', $composer, 'the version is Client::VERSION only');
        $configure = __DIR__ . '/../../../configure.ac';
        if (!is_file($configure)) {
            $this->markTestSkipped('configure.ac is in creditd\'s source tree only');
        }
        $this->assertSame(1, preg_match('/AC_INIT\(\[creditd\],\s*\[([^\]]+)\]/', (string) file_get_contents($configure), $m));
        $this->assertSame($m[1], Client::VERSION);
    }
}
