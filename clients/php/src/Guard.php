<?php

declare(strict_types=1);

namespace Creditd;

use Creditd\Exception\CreditdException;
use Creditd\Provider\Anthropic;
use Creditd\Provider\OpenAI;
use Creditd\Provider\Shape;

/**
 * One guarded model call (Client::guard()): the hold, what the call
 * produced, and how it ended. Tell it what the call produces as it goes:
 *
 *  - openaiStream($chunks) / anthropicStream($events): wrap a provider's
 *    stream (decoded chunks: arrays, SDK objects, or Provider\Sse::decode()
 *    of the raw bytes); yields each item after reading its text and usage.
 *  - openaiResponse($r) / anthropicResponse($r): a whole response's usage
 *    (Client::guard() reads the callable's return value this way by itself).
 *  - usage($input, $output, $cached, $final = false, $cacheWrite = null): the
 *    provider's reported usage (totals so far; $input counts the cached
 *    tokens and the cache writes too); it wins over everything below. $final: these are
 *    the call's final figures, settled even when they count no output (the
 *    input was billed). The provider shapes below mark their final usage so:
 *    an OpenAI usage chunk or response.completed, an Anthropic message_delta
 *    with output_tokens, a whole response's usage.
 *  - addOutputTokens($n): output tokens you counted yourself.
 *  - chunk($text): one streamed piece of output. When nothing above gave
 *    output tokens they are estimated as max(chunks, ceil(characters /
 *    CHARS_PER_TOKEN)), at most the hold's max_output_tokens.
 *  - stream($items, $text, $usage): any other stream, with your extractors.
 *
 * finish(?Throwable) ends it unless settle() was called: settled with
 * produced() when output_tokens > 0 (a call cut off midway is charged what
 * it produced) or when the provider's final usage came (even with 0 output
 * tokens: the input is charged), else released. A settle that was attempted and failed is
 * never followed by a release (the tokens were spent): the hold stays
 * pending for a settle() retried with the same figures. While the call's
 * own exception propagates, a failed finish keeps its error in
 * getSettleError() instead of throwing.
 */
final class Guard
{
    /** Characters a token for the fallback estimate (the usual rule for English with BPE tokenizers). */
    const CHARS_PER_TOKEN = 4;

    /** @var Client */
    private $client;
    /** @var array */
    private $params;
    /** @var array|null */
    private $hold;
    /** @var array|null */
    private $settled;
    /** @var array|null */
    private $released;
    /** @var CreditdException|null */
    private $settleError;
    /** @var bool */
    private $settleAttempted = false;
    /** @var bool */
    private $partial = false;
    /** @var array<string,int> */
    private $reported = [];
    /** @var bool the provider's final usage came (settled even with no output) */
    private $final = false;
    /** @var int */
    private $countedTokens = 0;
    /** @var int */
    private $chunks = 0;
    /** @var int */
    private $chars = 0;

    /** $params: as for Client::authorize() (account, request_id, model, input_tokens, ...). */
    public function __construct(Client $client, array $params)
    {
        $this->client = $client;
        $this->params = $params;
    }

    /** Holds the worst-case cost; throws what Client::authorize() throws. */
    public function authorize(?string $idempotencyKey = null): array
    {
        $this->hold = $this->client->authorize($this->params, $idempotencyKey);
        return $this->hold;
    }

    /**
     * The output cap to give the model: the hold's max_output_tokens (fewer than asked when
     * authorize shrank it with min_output_tokens), null before authorize() or for an action.
     */
    public function maxOutputTokens(): ?int
    {
        $n = $this->hold['max_output_tokens'] ?? null;
        return is_int($n) ? $n : null;
    }

    /**
     * The provider's reported usage, totals so far; null arguments leave a figure as it was.
     * $inputTokens counts the cached tokens and the cache writes too.
     * A negative figure is no figure (creditd would refuse it): it is ignored. $final: these
     * are the call's final figures (finish() settles them even with no output).
     */
    public function usage(?int $inputTokens = null, ?int $outputTokens = null, ?int $cachedInputTokens = null,
                          bool $final = false, ?int $cacheWriteInputTokens = null): void
    {
        foreach (['input_tokens' => $inputTokens, 'output_tokens' => $outputTokens,
                  'cached_input_tokens' => $cachedInputTokens,
                  'cache_write_input_tokens' => $cacheWriteInputTokens] as $name => $value) {
            if ($value !== null && $value >= 0) {
                $this->reported[$name] = $value;
            }
        }
        if ($final) {
            $this->final = true;
        }
    }

    /** Output tokens counted by the caller (added up). */
    public function addOutputTokens(int $n): void
    {
        $this->countedTokens += $n;
    }

    /**
     * One streamed piece of output; an empty one is not counted. Characters are UTF-8 code
     * points; without mbstring, the bytes that start a character.
     */
    public function chunk(?string $text): void
    {
        if ($text === null || $text === '') {
            return;
        }
        $this->chunks++;
        $this->chars += function_exists('mb_strlen') ? mb_strlen($text, 'UTF-8')
            : strlen($text) - (int) preg_match_all('/[\x80-\xBF]/', $text);
    }

    /**
     * Yields every item of $items (keys kept), telling the guard about each first.
     * $text(item): its output text (default: the item, a string); $usage(item):
     * ['input_tokens' => ..., 'output_tokens' => ..., 'cached_input_tokens' => ...,
     * 'cache_write_input_tokens' => ..., 'final' => bool] (every key optional) or null.
     */
    public function stream(iterable $items, ?callable $text = null, ?callable $usage = null): \Generator
    {
        foreach ($items as $key => $item) {
            $reported = $usage === null ? null : $usage($item);
            if ($reported) {
                $this->usage($reported['input_tokens'] ?? null, $reported['output_tokens'] ?? null,
                             $reported['cached_input_tokens'] ?? null, (bool) ($reported['final'] ?? false),
                             $reported['cache_write_input_tokens'] ?? null);
            }
            $this->chunk($text === null ? $item : $text($item));
            yield $key => $item;
        }
    }

    /**
     * An OpenAI stream (Chat Completions chunks, or Responses API events), items yielded as
     * they came. Ask for the usage chunk: 'stream_options' => ['include_usage' => true].
     */
    public function openaiStream(iterable $chunks): \Generator
    {
        return $this->stream($chunks, static function ($c): string {
            $a = Shape::toArray($c);
            return $a === null ? '' : OpenAI::text($a);
        }, static function ($c): ?array {
            $a = Shape::toArray($c);
            $usage = $a === null ? null : OpenAI::usage($a);
            return $usage === null ? null : $usage + ['final' => true]; // the usage chunk, response.completed
        });
    }

    /**
     * An Anthropic Messages stream (message_start, content_block_delta, message_delta, ...):
     * message_start's input with its cache reads and writes, message_delta's output and any
     * input members it repeats (Provider\Anthropic::streamUsage()).
     */
    public function anthropicStream(iterable $events): \Generator
    {
        $input = []; // the input members seen so far
        return $this->stream($events, static function ($e): string {
            $a = Shape::toArray($e);
            return $a === null ? '' : Anthropic::text($a);
        }, static function ($e) use (&$input): ?array {
            $a = Shape::toArray($e);
            $usage = $a === null ? null : Anthropic::streamUsage($a, $input);
            // message_delta's output_tokens is the final count; message_start's input is not all.
            return $usage === null ? null : $usage + ['final' => $usage['output_tokens'] !== null];
        });
    }

    /** A whole OpenAI response (chat.completion or response): its usage; returns it. */
    public function openaiResponse($response)
    {
        $a = Shape::toArray($response);
        if ($a !== null) {
            $this->take(OpenAI::usage($a), OpenAI::text($a));
        }
        return $response;
    }

    /** A whole Anthropic message: its usage; returns it. */
    public function anthropicResponse($response)
    {
        $a = Shape::toArray($response);
        if ($a !== null) {
            $this->take(Anthropic::usage($a), Anthropic::text($a));
        }
        return $response;
    }

    /**
     * What Client::guard() does with the callable's result: when no output tokens were
     * reported yet and it looks like an OpenAI or Anthropic response, its usage is taken.
     */
    public function absorbResponse($result): void
    {
        if ($this->settleAttempted || isset($this->reported['output_tokens'])) {
            return;
        }
        $a = (is_array($result) || is_object($result)) ? Shape::toArray($result) : null;
        if ($a === null) {
            return;
        }
        if (Anthropic::isResponse($a)) {
            $this->anthropicResponse($a);
        } elseif (OpenAI::isResponse($a)) {
            $this->openaiResponse($a);
        }
    }

    private function take(?array $usage, string $text): void
    {
        if ($usage) {
            $this->usage($usage['input_tokens'], $usage['output_tokens'], $usage['cached_input_tokens'], true,
                         $usage['cache_write_input_tokens'] ?? null);
        }
        $this->chunk($text);
    }

    /**
     * ['input_tokens', 'output_tokens', 'cached_input_tokens', 'cache_write_input_tokens']: what
     * finish() would settle now (the last two null when none was reported).
     */
    public function produced(): array
    {
        $cap = (int) ($this->hold['max_output_tokens'] ?? 0);
        // Every non-empty chunk carried a token at least (a usage reported
        // early in a stream may lag behind); the model was told to stop at
        // the cap, so neither the chunks nor an estimate go past it: the
        // settle stays within the hold.
        $floor = $cap > 0 ? min($this->chunks, $cap) : $this->chunks;
        $out = $this->reported['output_tokens'] ?? null;
        if ($out === null && $this->countedTokens > 0) {
            $out = $this->countedTokens;
        }
        if ($out === null) {
            $out = max($this->chunks, intdiv($this->chars + self::CHARS_PER_TOKEN - 1, self::CHARS_PER_TOKEN));
            if ($cap > 0) {
                $out = min($out, $cap);
            }
        }
        // A reported or counted figure is real tokens: settled as it is,
        // past the cap if so (creditd charges them beyond the hold).
        $out = max($out, $floor);
        $in = $this->reported['input_tokens'] ?? (int) ($this->params['input_tokens'] ?? 0);
        $cached = $this->reported['cached_input_tokens'] ?? null;
        if ($cached !== null && $cached > $in) { // creditd refuses more cached than input tokens
            $cached = $in;
        }
        $written = $this->reported['cache_write_input_tokens'] ?? null;
        if ($written !== null && $written > $in - ($cached ?? 0)) { // and cache writes past the rest
            $written = $in - ($cached ?? 0);
        }
        return ['input_tokens' => $in, 'output_tokens' => $out, 'cached_input_tokens' => $cached,
                'cache_write_input_tokens' => $written];
    }

    /**
     * Charges the tokens the call really used ($inputTokens counts the cached tokens and the cache
     * writes too); the rest of the hold is released.
     */
    public function settle(int $inputTokens, int $outputTokens, ?int $cachedInputTokens = null,
                           ?int $cacheWriteInputTokens = null): array
    {
        if ($this->hold === null) {
            throw new \LogicException('settle() before authorize()');
        }
        $this->settleAttempted = true;
        // No cache writes is not sent: a creditd that predates them still settles.
        $this->settled = $this->client->settle($this->hold['hold_id'], $inputTokens, $outputTokens,
                                               $cachedInputTokens, null, null, $cacheWriteInputTokens ?: null);
        return $this->settled;
    }

    /**
     * Ends the hold unless settled: settles what was produced (or the provider's final usage,
     * even with no output), or releases when nothing was.
     */
    public function finish(?\Throwable $error = null): void
    {
        if ($this->hold === null || $this->settleAttempted || $this->released !== null) {
            return;
        }
        $made = $this->produced();
        try {
            if ($made['output_tokens'] > 0 || $this->final) {
                $this->partial = $error !== null;
                $this->settle($made['input_tokens'], $made['output_tokens'], $made['cached_input_tokens'],
                              $made['cache_write_input_tokens']);
            } else {
                $this->released = $this->client->release($this->hold['hold_id']);
            }
        } catch (CreditdException $e) {
            if ($error === null) {
                throw $e;
            }
            // The call's own exception matters more; a failed settle stays
            // pending for a retry, a failed release expires anyway.
            $this->settleError = $this->settleAttempted ? $e : null;
        }
    }

    /** The authorize answer (hold_id, amount_micros, max_output_tokens, ...), or null before it. */
    public function getHold(): ?array
    {
        return $this->hold;
    }

    public function getHoldId(): ?string
    {
        return $this->hold['hold_id'] ?? null;
    }

    /** The settle answer, or null. */
    public function getSettled(): ?array
    {
        return $this->settled;
    }

    /** The release answer, or null. */
    public function getReleased(): ?array
    {
        return $this->released;
    }

    /** A settle on finish() that failed while the call's exception propagated, or null. */
    public function getSettleError(): ?CreditdException
    {
        return $this->settleError;
    }

    /** True when finish() settled a call that threw (a stream cut off midway). */
    public function isPartial(): bool
    {
        return $this->partial;
    }
}
