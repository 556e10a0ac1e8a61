<?php

declare(strict_types=1);

namespace Creditd\Provider;

/**
 * OpenAI's shapes: Chat Completions (a response, or stream chunks; the usage
 * comes in a last chunk with empty choices when the request asked for
 * stream_options: {include_usage: true}) and the Responses API (a response,
 * or stream events: response.output_text.delta, then response.completed
 * carrying the usage). input_tokens count cached ones too, as creditd does.
 */
final class OpenAI
{
    /**
     * The usage an item carries (a chunk, an event or a whole response) as
     * ['input_tokens', 'output_tokens', 'cached_input_tokens'], or null.
     */
    public static function usage(array $item): ?array
    {
        $u = $item['usage'] ?? null;
        if (!is_array($u) && isset($item['response']) && is_array($item['response'])) {
            $u = $item['response']['usage'] ?? null; // Responses API: response.completed / incomplete / failed
        }
        if (!is_array($u)) {
            return null;
        }
        $in = Shape::int($u, 'prompt_tokens') ?? Shape::int($u, 'input_tokens');
        $out = Shape::int($u, 'completion_tokens') ?? Shape::int($u, 'output_tokens');
        if ($in === null && $out === null) {
            return null;
        }
        $cached = Shape::int($u, 'prompt_tokens_details', 'cached_tokens')
            ?? Shape::int($u, 'input_tokens_details', 'cached_tokens');
        return ['input_tokens' => $in, 'output_tokens' => $out, 'cached_input_tokens' => $cached];
    }

    /** The output text a stream item carries (content, refusal, tool-call arguments), '' when none. */
    public static function text(array $item): string
    {
        $text = '';
        foreach ($item['choices'] ?? [] as $choice) {
            $d = $choice['delta'] ?? $choice['message'] ?? null;
            if (!is_array($d)) {
                continue;
            }
            foreach (['content', 'refusal', 'reasoning_content'] as $k) {
                if (isset($d[$k]) && is_string($d[$k])) {
                    $text .= $d[$k];
                }
            }
            foreach ($d['tool_calls'] ?? [] as $call) {
                $args = $call['function']['arguments'] ?? null;
                if (is_string($args)) {
                    $text .= $args;
                }
            }
        }
        $type = $item['type'] ?? null;
        if (is_string($type) && substr($type, -6) === '.delta' && isset($item['delta']) && is_string($item['delta'])) {
            $text .= $item['delta']; // Responses API: response.output_text.delta, ...arguments.delta
        }
        return $text;
    }

    /** Whether a whole response looks like OpenAI's (Chat Completions or Responses). */
    public static function isResponse(array $r): bool
    {
        $object = $r['object'] ?? null;
        return ($object === 'chat.completion' || $object === 'response'
                || isset($r['usage']['prompt_tokens']) || isset($r['usage']['input_tokens_details']))
            && self::usage($r) !== null;
    }
}
