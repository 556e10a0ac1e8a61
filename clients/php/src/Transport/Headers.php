<?php

declare(strict_types=1);

namespace Creditd\Transport;

/**
 * What may go on the wire in a request line or a header. A header value is
 * printable ASCII only (space to tilde): a CR or LF would end the header and
 * start another one, or a request of its own on a kept-alive connection,
 * whose answer a later call would then take for its own. NUL, the other
 * control bytes and non-ASCII bytes (encoded differently by each HTTP
 * library) are refused too. Every check throws InvalidArgumentException
 * naming the header, never its value (it may be a secret), before anything
 * is sent; the client never retries it.
 */
final class Headers
{
    /** The value, checked to go out as the header $name; $min..$max bytes long. */
    public static function value(string $name, string $value, int $min = 0, int $max = PHP_INT_MAX): string
    {
        if (!preg_match('/\A[\x20-\x7E]*\z/', $value)) {
            throw new \InvalidArgumentException($name . ' must be printable ASCII: no CR, LF, NUL or other'
                . ' control or non-ASCII byte');
        }
        $n = strlen($value);
        if ($n < $min || $n > $max) {
            throw new \InvalidArgumentException(sprintf('%s must be %d to %d bytes long, not %d', $name, $min, $max, $n));
        }
        return $value;
    }

    /**
     * "Name: value" lines as a Transport is given them: each checked, as
     * value() does, so a transport used on its own refuses them too.
     *
     * @param string[] $lines
     * @return string[]
     */
    public static function lines(array $lines): array
    {
        foreach ($lines as $line) {
            if (!is_string($line) || !preg_match('/\A[!-9;-~]+:[\x20-\x7E]*\z/', $line)) {
                throw new \InvalidArgumentException('a header line must be "Name: value" in printable ASCII: no CR, LF,'
                    . ' NUL or other control or non-ASCII byte');
            }
        }
        return $lines;
    }

    /** The URL of a request: visible ASCII only (URL-encoded), no space nor control byte. */
    public static function url(string $url): string
    {
        if (!preg_match('/\A[!-~]+\z/', $url)) {
            throw new \InvalidArgumentException('the URL (base URL and path) must be visible ASCII, URL-encoded:'
                . ' no space, CR, LF or other control byte');
        }
        return $url;
    }
}
