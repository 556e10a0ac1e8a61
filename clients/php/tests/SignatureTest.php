<?php

declare(strict_types=1);

namespace Creditd\Tests;

use Creditd\Client;
use Creditd\Exception\BadSignature;
use Creditd\Signature;
use PHPUnit\Framework\TestCase;

final class SignatureTest extends TestCase
{
    private const SECRET = 'whsec_0123456789abcdef0123456789abcdef';
    private const BODY = '{"id":42,"type":"balance.low","account":"alice","data":{"available_micros":1}}';

    public function testAGoodSignatureGivesTheEvent(): void
    {
        $header = 't=1700000000,v1=' . hash_hmac('sha256', '1700000000.' . self::BODY, self::SECRET);
        $event = Signature::verify(self::BODY, $header, self::SECRET, 300, 1700000100);
        $this->assertSame(42, $event['id']);
        $this->assertSame($event, Client::verifyEvent(self::BODY, $header, self::SECRET, 300, 1700000100));
        $this->assertSame($header, Signature::sign(self::BODY, self::SECRET, 1700000000));
    }

    public function testAnyOfSeveralSignaturesOrSecretsMatches(): void
    {
        $good = hash_hmac('sha256', '1700000000.' . self::BODY, self::SECRET);
        $header = 't=1700000000, v1=' . str_repeat('0', 64) . ', v1=' . $good;
        $this->assertSame(42, Signature::verify(self::BODY, $header, self::SECRET, 300, 1700000000)['id']);
        $this->assertSame(42, Signature::verify(self::BODY, $header, ['old-secret', self::SECRET], 300, 1700000000)['id']);
    }

    public function badCases(): array
    {
        $t = 1700000000;
        $sig = hash_hmac('sha256', $t . '.' . self::BODY, self::SECRET);
        return [
            'tampered body' => [str_replace('alice', 'mallory', self::BODY), "t=$t,v1=$sig", $t, 'no signature matches'],
            'wrong secret' => [self::BODY, 't=' . $t . ',v1=' . hash_hmac('sha256', $t . '.' . self::BODY, 'x'), $t, 'no signature matches'],
            'too old' => [self::BODY, "t=$t,v1=$sig", $t + 301, 'tolerance'],
            'from the future' => [self::BODY, "t=$t,v1=$sig", $t - 301, 'tolerance'],
            'other timestamp' => [self::BODY, 't=' . ($t + 1) . ",v1=$sig", $t, 'no signature matches'],
            'no v1' => [self::BODY, "t=$t", $t, 'no t= and v1='],
            'no t' => [self::BODY, "v1=$sig", $t, 'no t= and v1='],
            'empty' => [self::BODY, '', $t, 'no t= and v1='],
            'not json' => ['nope', 't=' . $t . ',v1=' . hash_hmac('sha256', $t . '.nope', self::SECRET), $t, 'JSON'],
        ];
    }

    /** @dataProvider badCases */
    public function testBadSignaturesAreRefused(string $body, string $header, int $now, string $why): void
    {
        $this->expectException(BadSignature::class);
        $this->expectExceptionMessage($why);
        Signature::verify($body, $header, self::SECRET, 300, $now);
    }

    public function testTheCompareIsConstantTime(): void
    {
        // hash_equals, and every signature compared (no early exit on a match).
        $src = (string) file_get_contents(__DIR__ . '/../src/Signature.php');
        $this->assertStringContainsString('hash_equals($mac, $sig) || $ok', $src);
        $this->assertDoesNotMatchRegularExpression('/\$mac\s*===?\s*\$sig/', $src);
    }
}
