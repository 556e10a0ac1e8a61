<?php

declare(strict_types=1);

namespace Creditd\Provider;

/**
 * Anthropic's Messages shapes. A stream's message_start carries the input
 * tokens, content_block_delta the text, message_delta the output tokens so
 * far (the final figure in the last one) and, in newer answers, the input
 * members again. Anthropic counts cache reads and cache writes apart from
 * input_tokens; creditd's input_tokens count every input token, so input =
 * input_tokens + cache_creation_input_tokens + cache_read_input_tokens,
 * cached = cache_read_input_tokens, and cache writes (charged at the
 * model's cache-write price) = cache_creation_input_tokens. cache_creation,
 * the 5-minute and 1-hour split of those writes, is not read: creditd's
 * gateway does not read it either.
 */
final class Anthropic
{
    /** Anthropic's input members. */
    private const INPUT = ['input_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'];

    /**
     * The input figures of message_start, or every figure of a message_delta
     * or a whole message, as ['input_tokens', 'output_tokens', 'cached_input_tokens',
     * 'cache_write_input_tokens'] (a figure absent from the item is null; the
     * input figures only come with Anthropic's input_tokens), or null when it
     * carries none. message_start's output_tokens is a placeholder, not a count: left out.
     */
    public static function usage(array $item): ?array
    {
        $type = $item['type'] ?? null;
        if ($type === 'message_start') {
            $u = $item['message']['usage'] ?? null;
            if (!is_array($u)) {
                return null;
            }
            $parts = self::parts($u);
            unset($parts['output_tokens']);
            return self::figures($parts);
        }
        if ($type === 'message_delta' || $type === 'message') {
            $u = $item['usage'] ?? null;
            return is_array($u) ? self::figures(self::parts($u)) : null;
        }
        return null;
    }

    /**
     * The figures of a stream's message_start or message_delta, as usage()
     * gives them, with $input the input members the stream's events gave so
     * far: each one an event carries replaces its figure (message_delta may
     * repeat them: the latest stands), as creditd's gateway reads a stream.
     * A message_start without input_tokens is not read.
     */
    public static function streamUsage(array $item, array &$input): ?array
    {
        $type = $item['type'] ?? null;
        $u = $type === 'message_start' ? ($item['message']['usage'] ?? null)
            : ($type === 'message_delta' ? ($item['usage'] ?? null) : null);
        if (!is_array($u)) {
            return null;
        }
        $parts = self::parts($u);
        if ($type === 'message_start' && !isset($parts['input_tokens'])) {
            return null;
        }
        foreach (self::INPUT as $k) {
            if (isset($parts[$k])) {
                $input[$k] = $parts[$k];
            }
        }
        $seen = $input;
        if ($type === 'message_delta' && isset($parts['output_tokens'])) {
            $seen['output_tokens'] = $parts['output_tokens'];
        }
        return self::figures($seen);
    }

    /** The members of a usage object that are counts, by name (output_tokens too). */
    private static function parts(array $u): array
    {
        $parts = [];
        foreach (array_merge(self::INPUT, ['output_tokens']) as $k) {
            $n = Shape::int($u, $k);
            if ($n !== null) {
                $parts[$k] = $n;
            }
        }
        return $parts;
    }

    private static function figures(array $parts): ?array
    {
        $in = $parts['input_tokens'] ?? null;
        $read = $parts['cache_read_input_tokens'] ?? 0;
        $write = $parts['cache_creation_input_tokens'] ?? 0;
        $out = $parts['output_tokens'] ?? null;
        if ($in === null && $out === null) {
            return null;
        }
        return ['input_tokens' => $in === null ? null : $in + $read + $write, 'output_tokens' => $out,
                'cached_input_tokens' => $in === null ? null : $read,
                'cache_write_input_tokens' => $in === null ? null : $write];
    }

    /** The output text a stream event or a whole message carries (text, thinking, tool input JSON). */
    public static function text(array $item): string
    {
        $type = $item['type'] ?? null;
        if ($type === 'content_block_delta') {
            $d = $item['delta'] ?? [];
            foreach (['text', 'thinking', 'partial_json'] as $k) {
                if (isset($d[$k]) && is_string($d[$k])) {
                    return $d[$k];
                }
            }
            return '';
        }
        if ($type === 'message') {
            $text = '';
            foreach ($item['content'] ?? [] as $block) {
                foreach (['text', 'thinking'] as $k) {
                    if (isset($block[$k]) && is_string($block[$k])) {
                        $text .= $block[$k];
                    }
                }
                if (($block['type'] ?? null) === 'tool_use' && isset($block['input'])) {
                    $text .= (string) json_encode($block['input']);
                }
            }
            return $text;
        }
        return '';
    }

    /** Whether a whole response looks like an Anthropic message. */
    public static function isResponse(array $r): bool
    {
        return ($r['type'] ?? null) === 'message' && self::usage($r) !== null;
    }
}
