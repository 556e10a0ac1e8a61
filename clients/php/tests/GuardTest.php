<?php

declare(strict_types=1);

namespace Creditd\Tests;

use Creditd\Client;
use Creditd\Guard;
use Creditd\Provider\Anthropic;
use Creditd\Provider\Sse;
use PHPUnit\Framework\TestCase;

final class ProviderCut extends \RuntimeException
{
}

/** Client::guard() around fake OpenAI and Anthropic streams, complete and cut mid-way. */
final class GuardTest extends TestCase
{
    /** @var FakeTransport */
    private $fake;

    private const PARAMS = ['account' => 'alice', 'request_id' => 'chat-1', 'model' => 'gpt-4o',
                            'input_tokens' => 1000, 'max_output_tokens' => 500];

    private function client(int $maxOutput = 500): Client
    {
        $this->fake = new FakeTransport([FakeTransport::json(200, ['hold_id' => 'hold_1_7', 'amount_micros' => 9,
            'available_micros' => 99, 'expires_at' => '2026-01-01T00:00:00Z', 'max_output_tokens' => $maxOutput])]);
        return new Client('http://creditd.test', 'k', ['transport' => $this->fake, 'max_retries' => 0]);
    }

    /** Answers the settle or release the guard sends. */
    private function ending(): void
    {
        $this->fake->push(static function (array $r) {
            return FakeTransport::json(200, ['hold_id' => 'hold_1_7', 'charged_micros' => 1, 'state' => 'released']);
        });
    }

    /** The last request: [path, body]. */
    private function last(): array
    {
        $paths = $this->fake->paths();
        return [end($paths), end($this->fake->requests)['body']];
    }

    private static function cut(array $items, int $after): \Generator
    {
        foreach (array_slice($items, 0, $after) as $item) {
            yield $item;
        }
        throw new ProviderCut('connection reset by peer');
    }

    private static function openaiChunks(): array
    {
        $c = static function (string $text): array {
            return ['object' => 'chat.completion.chunk', 'choices' => [['index' => 0, 'delta' => ['content' => $text]]],
                    'usage' => null];
        };
        return [
            ['object' => 'chat.completion.chunk', 'choices' => [['index' => 0, 'delta' => ['role' => 'assistant', 'content' => '']]], 'usage' => null],
            $c('Hello'), $c(', world'), $c(' and the'), $c(' rest of it'),
            ['object' => 'chat.completion.chunk', 'choices' => [['index' => 0, 'delta' => [], 'finish_reason' => 'stop']], 'usage' => null],
            ['object' => 'chat.completion.chunk', 'choices' => [],
             'usage' => ['prompt_tokens' => 1010, 'completion_tokens' => 9, 'prompt_tokens_details' => ['cached_tokens' => 10]]],
        ];
    }

    /** $start: message_start's usage members instead of the usual ones; $delta: more members in message_delta's. */
    private static function anthropicEvents(?array $start = null, array $delta = []): array
    {
        $d = static function (string $text): array {
            return ['type' => 'content_block_delta', 'index' => 0, 'delta' => ['type' => 'text_delta', 'text' => $text]];
        };
        return [
            ['type' => 'message_start', 'message' => ['type' => 'message', 'role' => 'assistant', 'content' => [],
             'usage' => ($start ?? ['input_tokens' => 900, 'cache_creation_input_tokens' => 20, 'cache_read_input_tokens' => 80])
                        + ['output_tokens' => 1]]],
            ['type' => 'content_block_start', 'index' => 0, 'content_block' => ['type' => 'text', 'text' => '']],
            ['type' => 'ping'],
            $d('Bonjour'), $d(', le monde'), $d(' entier et'), $d(' le reste'),
            ['type' => 'content_block_stop', 'index' => 0],
            ['type' => 'message_delta', 'delta' => ['stop_reason' => 'end_turn'], 'usage' => $delta + ['output_tokens' => 12]],
            ['type' => 'message_stop'],
        ];
    }

    private function guarded(Client $c, callable $call): array
    {
        $seen = null;
        $thrown = null;
        $result = null;
        $this->ending();
        try {
            $result = $c->guard(self::PARAMS, function (Guard $hold) use ($call, &$seen) {
                $seen = $hold;
                return $call($hold);
            });
        } catch (\Throwable $e) {
            $thrown = $e;
        }
        return [$seen, $thrown, $result];
    }

    public function testOpenAIStreamCompleteSettlesTheUsageChunk(): void
    {
        [$hold, $thrown, $text] = $this->guarded($this->client(), function (Guard $h) {
            $text = '';
            foreach ($h->openaiStream(self::openaiChunks()) as $chunk) {
                $text .= $chunk['choices'][0]['delta']['content'] ?? '';
            }
            return $text;
        });
        $this->assertNull($thrown);
        $this->assertSame('Hello, world and the rest of it', $text);
        $this->assertSame(['POST /v1/guard/settle', ['hold_id' => 'hold_1_7', 'input_tokens' => 1010,
            'output_tokens' => 9, 'cached_input_tokens' => 10]], $this->last());
        $this->assertFalse($hold->isPartial());
    }

    public function testOpenAIStreamCutMidwaySettlesTheTextSoFar(): void
    {
        [$hold, $thrown] = $this->guarded($this->client(), function (Guard $h) {
            foreach ($h->openaiStream(self::cut(self::openaiChunks(), 4)) as $chunk) {
            }
        });
        $this->assertInstanceOf(ProviderCut::class, $thrown, 'the provider error is thrown again');
        // 'Hello, world and the' = 20 characters = 5 tokens (3 chunks); input as authorized.
        $this->assertSame(['POST /v1/guard/settle', ['hold_id' => 'hold_1_7', 'input_tokens' => 1000,
            'output_tokens' => 5]], $this->last());
        $this->assertTrue($hold->isPartial());
    }

    public function testAnEstimateNeverGoesBeyondTheHold(): void
    {
        [, $thrown] = $this->guarded($this->client(3), function (Guard $h) {
            foreach ($h->openaiStream(self::cut(self::openaiChunks(), 5)) as $chunk) {
            }
        });
        $this->assertInstanceOf(ProviderCut::class, $thrown);
        $this->assertSame(3, $this->last()[1]['output_tokens'], 'capped at the hold\'s max_output_tokens');
    }

    public function testAStreamCutBeforeAnyOutputIsReleased(): void
    {
        [$hold, $thrown] = $this->guarded($this->client(), function (Guard $h) {
            foreach ($h->openaiStream(self::cut(self::openaiChunks(), 1)) as $chunk) {
            }
        });
        $this->assertInstanceOf(ProviderCut::class, $thrown);
        $this->assertSame(['POST /v1/guard/release', ['hold_id' => 'hold_1_7']], $this->last());
        $this->assertNull($hold->getSettled());
        $this->assertNotNull($hold->getReleased());
    }

    public function testAnthropicStreamCompleteSettlesMessageStartAndMessageDelta(): void
    {
        [, $thrown] = $this->guarded($this->client(), function (Guard $h) {
            foreach ($h->anthropicStream(self::anthropicEvents()) as $event) {
            }
        });
        $this->assertNull($thrown);
        // input: 900 + 20 cache writes + 80 cache reads; cached: the reads; the writes as cache writes.
        $this->assertSame(['input_tokens' => 1000, 'output_tokens' => 12, 'cached_input_tokens' => 80,
            'cache_write_input_tokens' => 20], array_slice($this->last()[1], 1));
    }

    public function testAnthropicCacheWritesAreSentAsCacheWrites(): void
    {
        $this->guarded($this->client(), function (Guard $h) {
            foreach ($h->anthropicStream(self::anthropicEvents(
                ['input_tokens' => 700, 'cache_read_input_tokens' => 300, 'cache_creation_input_tokens' => 2000], [])) as $e) {
            }
        });
        $this->assertSame(['input_tokens' => 3000, 'output_tokens' => 12, 'cached_input_tokens' => 300,
            'cache_write_input_tokens' => 2000], array_slice($this->last()[1], 1));
    }

    public function testMessageDeltaReplacesEachMemberItRepeatsTheOthersStand(): void
    {
        $start = ['input_tokens' => 10, 'cache_read_input_tokens' => 50, 'cache_creation_input_tokens' => 100];
        $this->guarded($this->client(), function (Guard $h) use ($start) {
            foreach ($h->anthropicStream(self::anthropicEvents($start, ['input_tokens' => 12])) as $e) {
            }
        });
        $this->assertSame(['input_tokens' => 162, 'output_tokens' => 12, 'cached_input_tokens' => 50,
            'cache_write_input_tokens' => 100], array_slice($this->last()[1], 1));
        $this->guarded($this->client(), function (Guard $h) use ($start) {
            $all = ['input_tokens' => 10, 'cache_read_input_tokens' => 60, 'cache_creation_input_tokens' => 90];
            foreach ($h->anthropicStream(self::anthropicEvents($start, $all)) as $e) {
            }
        });
        $this->assertSame(['input_tokens' => 160, 'output_tokens' => 12, 'cached_input_tokens' => 60,
            'cache_write_input_tokens' => 90], array_slice($this->last()[1], 1));
    }

    public function testAWholeMessagesCacheWritesAreCacheCreationInputTokensNotTheirSplit(): void
    {
        $message = ['type' => 'message', 'content' => [],
                    'usage' => ['input_tokens' => 8, 'cache_read_input_tokens' => 2, 'cache_creation_input_tokens' => 30,
                                'cache_creation' => ['ephemeral_5m_input_tokens' => 10, 'ephemeral_1h_input_tokens' => 20],
                                'output_tokens' => 4]];
        foreach ([$message, json_decode((string) json_encode($message))] as $m) {
            $this->guarded($this->client(), function (Guard $h) use ($m) {
                $h->anthropicResponse($m);
            });
            $this->assertSame(['input_tokens' => 40, 'output_tokens' => 4, 'cached_input_tokens' => 2,
                'cache_write_input_tokens' => 30], array_slice($this->last()[1], 1));
        }
    }

    public function testAnthropicUsageHasInputFiguresOnlyWithInputTokens(): void
    {
        $this->assertSame(['input_tokens' => 12, 'output_tokens' => 3, 'cached_input_tokens' => 0,
            'cache_write_input_tokens' => 7], Anthropic::usage(['type' => 'message',
            'usage' => ['input_tokens' => 5, 'cache_creation_input_tokens' => 7, 'output_tokens' => 3]]));
        $this->assertSame(['input_tokens' => null, 'output_tokens' => 3, 'cached_input_tokens' => null,
            'cache_write_input_tokens' => null], Anthropic::usage(['type' => 'message_delta',
            'usage' => ['cache_creation_input_tokens' => 7, 'output_tokens' => 3]]));
    }

    public function testReportedCacheWritesAreCutToTheUncachedInput(): void
    {
        [$hold] = $this->guarded($this->client(), function (Guard $h) {
            $h->usage(100, 5, 30, false, 90);
            $h->usage(null, null, null, false, -1); // no figure
            return null;
        });
        $this->assertSame(['input_tokens' => 100, 'output_tokens' => 5, 'cached_input_tokens' => 30,
            'cache_write_input_tokens' => 70], $hold->produced());
        $this->assertSame(['input_tokens' => 100, 'output_tokens' => 5, 'cached_input_tokens' => 30,
            'cache_write_input_tokens' => 70], array_slice($this->last()[1], 1));
        $this->guarded($this->client(), function (Guard $h) {
            foreach ($h->stream(['x'], null, static function (): array {
                return ['input_tokens' => 50, 'output_tokens' => 1, 'cache_write_input_tokens' => 20];
            }) as $item) {
            }
        });
        $this->assertSame(['input_tokens' => 50, 'output_tokens' => 1, 'cache_write_input_tokens' => 20],
            array_slice($this->last()[1], 1));
    }

    public function testAnExplicitSettlePassesCacheWrites(): void
    {
        $this->guarded($this->client(), function (Guard $h) {
            $h->settle(100, 5, 20, 40);
        });
        $this->assertSame(['input_tokens' => 100, 'output_tokens' => 5, 'cached_input_tokens' => 20,
            'cache_write_input_tokens' => 40], array_slice($this->last()[1], 1));
    }

    public function testAnthropicStreamCutMidwaySettlesInputFromMessageStartAndEstimatedOutput(): void
    {
        [$hold, $thrown] = $this->guarded($this->client(), function (Guard $h) {
            foreach ($h->anthropicStream(self::cut(self::anthropicEvents(), 5)) as $event) {
            }
        });
        $this->assertInstanceOf(ProviderCut::class, $thrown);
        // 'Bonjour, le monde' = 17 characters: 5 tokens; message_start's output_tokens: 1 is no count.
        $this->assertSame(['input_tokens' => 1000, 'output_tokens' => 5, 'cached_input_tokens' => 80,
            'cache_write_input_tokens' => 20], array_slice($this->last()[1], 1));
        $this->assertTrue($hold->isPartial());
    }

    public function testSdkObjectsAreReadToo(): void
    {
        [, $thrown] = $this->guarded($this->client(), function (Guard $h) {
            $objects = array_map(static function (array $c) {
                return json_decode((string) json_encode($c)); // stdClass, as some SDKs give
            }, self::openaiChunks());
            foreach ($h->openaiStream($objects) as $chunk) {
            }
        });
        $this->assertNull($thrown);
        $this->assertSame(9, $this->last()[1]['output_tokens']);
    }

    public function testRawSseBytesCutMidLine(): void
    {
        $sse = '';
        foreach (self::anthropicEvents() as $e) {
            $sse .= 'event: ' . $e['type'] . "\ndata: " . json_encode($e) . "\n\n";
        }
        $cutAt = strpos($sse, ' entier'); // inside the third text delta's line
        $pieces = str_split(substr($sse, 0, $cutAt), 7);
        [, $thrown] = $this->guarded($this->client(), function (Guard $h) use ($pieces) {
            foreach ($h->anthropicStream(Sse::decode(self::cut($pieces, count($pieces)))) as $event) {
            }
        });
        $this->assertInstanceOf(ProviderCut::class, $thrown);
        $this->assertSame(5, $this->last()[1]['output_tokens'], 'the half line is not counted');
    }

    public function testSseDecodesOpenAIAndSkipsDone(): void
    {
        $raw = ": keep-alive\n\ndata: {\"a\":1}\r\n\r\ndata: [DONE]\n\n";
        $this->assertSame([['a' => 1]], iterator_to_array(Sse::decode(str_split($raw, 3)), false));
        $this->assertSame([['b' => 2]], iterator_to_array(Sse::decode(["data: {\"b\":2}"]), false), 'no final blank line');
    }

    public function testAReturnedOpenAIResponseIsSettledWithItsUsage(): void
    {
        [, $thrown, $result] = $this->guarded($this->client(), function () {
            return ['object' => 'chat.completion', 'choices' => [['message' => ['content' => 'Hi']]],
                    'usage' => ['prompt_tokens' => 1001, 'completion_tokens' => 2,
                                'prompt_tokens_details' => ['cached_tokens' => 0]]];
        });
        $this->assertNull($thrown);
        $this->assertSame('chat.completion', $result['object']);
        $this->assertSame(['input_tokens' => 1001, 'output_tokens' => 2, 'cached_input_tokens' => 0],
            array_slice($this->last()[1], 1));
    }

    public function testAReturnedAnthropicMessageIsSettledWithItsUsage(): void
    {
        $this->guarded($this->client(), function () {
            return ['type' => 'message', 'content' => [['type' => 'text', 'text' => 'Hi']],
                    'usage' => ['input_tokens' => 990, 'cache_read_input_tokens' => 10, 'output_tokens' => 3]];
        });
        $this->assertSame(['input_tokens' => 1000, 'output_tokens' => 3, 'cached_input_tokens' => 10],
            array_slice($this->last()[1], 1));
    }

    public function testAResponsesApiStreamIsRead(): void
    {
        $this->guarded($this->client(), function (Guard $h) {
            $events = [
                ['type' => 'response.created', 'response' => ['usage' => null]],
                ['type' => 'response.output_text.delta', 'delta' => 'Hi there'],
                ['type' => 'response.completed', 'response' => ['usage' => ['input_tokens' => 1005, 'output_tokens' => 4,
                    'input_tokens_details' => ['cached_tokens' => 5]]]],
            ];
            foreach ($h->openaiStream($events) as $e) {
            }
        });
        $this->assertSame(['input_tokens' => 1005, 'output_tokens' => 4, 'cached_input_tokens' => 5],
            array_slice($this->last()[1], 1));
    }

    public function testACallThatSettlesItselfIsLeftAlone(): void
    {
        $c = $this->client();
        $this->ending();
        $c->guard(self::PARAMS, function (Guard $h) {
            $h->settle(1000, 7);
            return ['type' => 'message', 'usage' => ['input_tokens' => 1, 'output_tokens' => 1]];
        });
        $this->assertCount(2, $this->fake->requests, 'authorize and one settle');
        $this->assertSame(7, $this->last()[1]['output_tokens']);
    }

    public function testAFailedSettleOnTheWayOutKeepsTheCallsException(): void
    {
        $c = $this->client();
        $this->fake->push(FakeTransport::error(503, 'api_error', 'unavailable'));
        $seen = null;
        try {
            $c->guard(self::PARAMS, function (Guard $h) use (&$seen) {
                $seen = $h;
                $h->chunk('some text');
                throw new ProviderCut('cut');
            });
            $this->fail('no exception');
        } catch (ProviderCut $e) {
            $this->assertNotNull($seen->getSettleError());
            $this->assertSame(503, $seen->getSettleError()->getStatus());
            $this->assertSame('POST /v1/guard/settle', $this->last()[0], 'never released after a settle was tried');
        }
    }

    /**
     * The provider's final usage with 0 output tokens (a refusal, an empty answer, a stop at once):
     * the input was billed, so the exit settles it, as the Python and Node clients do.
     */
    public function testFinalUsageWithNoOutputSettlesTheInput(): void
    {
        [, $thrown] = $this->guarded($this->client(), function (Guard $h) {
            foreach ($h->openaiStream([['object' => 'chat.completion.chunk', 'choices' => [],
                'usage' => ['prompt_tokens' => 1010, 'completion_tokens' => 0]]]) as $chunk) {
            }
            return null;
        });
        $this->assertNull($thrown);
        $this->assertSame(['POST /v1/guard/settle', ['hold_id' => 'hold_1_7', 'input_tokens' => 1010,
            'output_tokens' => 0]], $this->last());

        $this->guarded($this->client(), function (Guard $h) {
            foreach ($h->anthropicStream([
                ['type' => 'message_start', 'message' => ['usage' => ['input_tokens' => 900, 'output_tokens' => 1]]],
                ['type' => 'message_delta', 'delta' => ['stop_reason' => 'end_turn'], 'usage' => ['output_tokens' => 0]],
            ]) as $event) {
            }
            return null;
        });
        $this->assertSame(['POST /v1/guard/settle', ['hold_id' => 'hold_1_7', 'input_tokens' => 900,
            'output_tokens' => 0, 'cached_input_tokens' => 0]], $this->last());

        $this->guarded($this->client(), function (Guard $h) {
            return ['object' => 'chat.completion', 'choices' => [['message' => ['content' => '']]],
                    'usage' => ['prompt_tokens' => 700, 'completion_tokens' => 0]];
        });
        $this->assertSame(['POST /v1/guard/settle', ['hold_id' => 'hold_1_7', 'input_tokens' => 700,
            'output_tokens' => 0]], $this->last());

        $this->guarded($this->client(), function (Guard $h) {
            $h->usage(600, 0, null, true);
            return null;
        });
        $this->assertSame(['POST /v1/guard/settle', ['hold_id' => 'hold_1_7', 'input_tokens' => 600,
            'output_tokens' => 0]], $this->last());
    }

    /** Figures that are not final (usage() without $final, message_start alone) with no output: released. */
    public function testUsageNotFinalWithNoOutputIsReleased(): void
    {
        $this->guarded($this->client(), function (Guard $h) {
            $h->usage(600, 0);
            return null;
        });
        $this->assertSame(['POST /v1/guard/release', ['hold_id' => 'hold_1_7']], $this->last());
        $this->guarded($this->client(), function (Guard $h) {
            foreach ($h->anthropicStream(self::cut([
                ['type' => 'message_start', 'message' => ['usage' => ['input_tokens' => 900, 'output_tokens' => 1]]],
            ], 1)) as $event) {
            }
        });
        $this->assertSame(['POST /v1/guard/release', ['hold_id' => 'hold_1_7']], $this->last());
    }
}
