<?php

declare(strict_types=1);

namespace Creditd\Provider;

/**
 * Server-sent events as providers stream them, from raw bytes in pieces of
 * any size (what a curl write callback or fread() hands out): yields each
 * event's data decoded from JSON (arrays), skipping OpenAI's "[DONE]" and
 * comments. A piece may end mid-line; the rest waits for the next piece.
 */
final class Sse
{
    /**
     * @param iterable<string> $pieces
     * @return \Generator<int, array>
     */
    public static function decode(iterable $pieces): \Generator
    {
        $buffer = '';
        $data = [];
        foreach ($pieces as $piece) {
            $buffer .= $piece;
            while (($nl = strpos($buffer, "\n")) !== false) {
                $line = rtrim(substr($buffer, 0, $nl), "\r");
                $buffer = (string) substr($buffer, $nl + 1);
                $event = self::line($line, $data);
                if ($event !== null) {
                    yield $event;
                }
            }
        }
        $line = rtrim($buffer, "\r");
        if ($line !== '') {
            self::line($line, $data);
        }
        $event = self::line('', $data); // a stream that ended without the blank line
        if ($event !== null) {
            yield $event;
        }
    }

    /** Takes one line; returns the event a blank line completes, else null. */
    private static function line(string $line, array &$data): ?array
    {
        if ($line === '') {
            if (!$data) {
                return null;
            }
            $json = implode("\n", $data);
            $data = [];
            if ($json === '[DONE]') {
                return null;
            }
            $event = json_decode($json, true);
            return is_array($event) ? $event : null;
        }
        if ($line[0] === ':') {
            return null;
        }
        if (strncmp($line, 'data:', 5) === 0) {
            $v = substr($line, 5);
            $data[] = ($v !== '' && $v[0] === ' ') ? substr($v, 1) : $v;
        }
        return null; // event:, id:, retry: need nothing here (Anthropic repeats the type in the data)
    }
}
