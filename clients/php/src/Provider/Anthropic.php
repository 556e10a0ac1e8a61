<?php

declare(strict_types=1);

namespace Creditd\Provider;

/**
 * Anthropic's Messages shapes. A stream's message_start carries the input
 * tokens, content_block_delta the text, message_delta the output tokens so
 * far (the final figure in the last one). Anthropic counts cache reads and
 * cache writes apart from input_tokens; creditd's input_tokens count every
 * input token, so input = input_tokens + cache_creation_input_tokens +
 * cache_read_input_tokens, and cached = cache_read_input_tokens.
 */
final class Anthropic
{
    /**
     * The input figures of message_start, or every figure of a message_delta
     * or a whole message, as ['input_tokens', 'output_tokens', 'cached_input_tokens']
     * (a figure absent from the item is null), or null when it carries none.
     * message_start's output_tokens is a placeholder, not a count: left out.
     */
    public static function usage(array $item): ?array
    {
        $type = $item['type'] ?? null;
        if ($type === 'message_start') {
            $u = $item['message']['usage'] ?? null;
            return is_array($u) ? self::figures($u, false) : null;
        }
        if ($type === 'message_delta' || $type === 'message') {
            $u = $item['usage'] ?? null;
            return is_array($u) ? self::figures($u, true) : null;
        }
        return null;
    }

    private static function figures(array $u, bool $withOutput): ?array
    {
        $in = Shape::int($u, 'input_tokens');
        $write = Shape::int($u, 'cache_creation_input_tokens');
        $read = Shape::int($u, 'cache_read_input_tokens');
        $total = ($in === null && $write === null && $read === null) ? null : ($in ?? 0) + ($write ?? 0) + ($read ?? 0);
        $out = $withOutput ? Shape::int($u, 'output_tokens') : null;
        if ($total === null && $out === null) {
            return null;
        }
        return ['input_tokens' => $total, 'output_tokens' => $out, 'cached_input_tokens' => $total === null ? null : ($read ?? 0)];
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
