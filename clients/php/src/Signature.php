<?php

declare(strict_types=1);

namespace Creditd;

use Creditd\Exception\BadSignature;

/**
 * The Creditd-Signature of pushed events: "t=TS,v1=HEX" where HEX is
 * HMAC-SHA256(secret, "TS.body") (Stripe's scheme; several v1 may come
 * while a secret is rotated).
 */
final class Signature
{
    /** Seconds a signature's timestamp may be away from now, either way. */
    const DEFAULT_TOLERANCE = 300;

    /**
     * Checks a pushed event before trusting it and returns it decoded.
     *
     * @param string $payload the raw body: file_get_contents('php://input'), never a re-encoded one
     * @param string $header $_SERVER['HTTP_CREDITD_SIGNATURE']
     * @param string|string[] $secret [notify] secret; several while rotating
     * @param int $tolerance seconds between the header's t and now, either way
     * @throws BadSignature when no v1 matches (compared in constant time), t is
     *         missing or too far from now, or the body is not a JSON object
     */
    public static function verify(string $payload, string $header, $secret, int $tolerance = self::DEFAULT_TOLERANCE,
                                  ?int $now = null): array
    {
        $t = null;
        $sigs = [];
        foreach (explode(',', $header) as $part) {
            $kv = explode('=', trim($part), 2);
            if (count($kv) !== 2) {
                continue;
            }
            [$k, $v] = $kv;
            if ($k === 't' && $v !== '' && ctype_digit($v)) {
                $t = (int) $v;
            } elseif ($k === 'v1' && $v !== '') {
                $sigs[] = strtolower($v);
            }
        }
        if ($t === null || !$sigs) {
            throw new BadSignature('no t= and v1= in the Creditd-Signature header');
        }
        if (abs(($now ?? time()) - $t) > $tolerance) {
            throw new BadSignature("the signature's timestamp is outside the tolerance");
        }
        $ok = false;
        foreach ((array) $secret as $s) {
            $mac = hash_hmac('sha256', $t . '.' . $payload, (string) $s);
            foreach ($sigs as $sig) {
                $ok = hash_equals($mac, $sig) || $ok; // no early exit: every pair is compared
            }
        }
        if (!$ok) {
            throw new BadSignature('no signature matches the secret');
        }
        $event = json_decode($payload, true, 512, JSON_BIGINT_AS_STRING);
        if (!is_array($event)) {
            throw new BadSignature('the body is not a JSON object');
        }
        return $event;
    }

    /** The header creditd would send for $payload at $timestamp (for tests of your receiver). */
    public static function sign(string $payload, string $secret, ?int $timestamp = null): string
    {
        $t = $timestamp ?? time();
        return 't=' . $t . ',v1=' . hash_hmac('sha256', $t . '.' . $payload, $secret);
    }
}
