<?php

declare(strict_types=1);

namespace Creditd\Tests;

use Creditd\Client;
use Creditd\Exception;
use Creditd\Exception\ConnectionFailed;
use Creditd\Transport\Response;
use PHPUnit\Framework\TestCase;

final class ClientTest extends TestCase
{
    /** @var FakeTransport */
    private $fake;
    /** @var float[] */
    private $slept = [];

    private function client(array $options = []): Client
    {
        $this->fake = new FakeTransport();
        $this->slept = [];
        return new Client('http://creditd.test/', 'sk_test', $options + [
            'transport' => $this->fake,
            'sleep' => function (float $s): void {
                $this->slept[] = $s;
            },
        ]);
    }

    public function testNothingShadowsPhpsError(): void
    {
        $this->assertFalse(class_exists('Creditd\\Error', true));
        $this->assertTrue(is_subclass_of(Exception\InsufficientCredits::class, \RuntimeException::class));
    }

    public function testAuthorizeSendsIntegersDropsNullsAndAuthenticates(): void
    {
        $c = $this->client();
        $this->fake->push(FakeTransport::json(200, ['hold_id' => 'hold_1_1', 'max_output_tokens' => 64]));
        $c->authorize(['account' => 'a/b', 'request_id' => 'r1', 'model' => 'gpt-4o', 'input_tokens' => 1200.0,
                       'max_output_tokens' => '800', 'min_output_tokens' => 64, 'member' => null]);
        $r = $this->fake->requests[0];
        $this->assertSame('POST', $r['method']);
        $this->assertSame('http://creditd.test/v1/guard/authorize', $r['url']);
        $this->assertSame('{"account":"a/b","request_id":"r1","model":"gpt-4o","input_tokens":1200,'
            . '"max_output_tokens":800,"min_output_tokens":64}', $r['raw']);
        $this->assertSame('Bearer sk_test', $r['headers']['authorization']);
        $this->assertSame('application/json', $r['headers']['content-type']);
        $this->assertMatchesRegularExpression('/^php-[0-9a-f]{32}$/', $r['headers']['idempotency-key'],
            'a write gets a key so that retries are safe');
    }

    public function testFractionalFloatNeverLeaves(): void
    {
        $c = $this->client();
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('input_tokens');
        $c->authorize(['account' => 'a', 'request_id' => 'r', 'model' => 'm', 'input_tokens' => 1.5]);
    }

    public function testEveryAppRouteMapsItsPath(): void
    {
        $c = $this->client();
        for ($i = 0; $i < 19; $i++) {
            $this->fake->push(FakeTransport::json(200, ['data' => [], 'next_cursor' => null, 'next_after' => 0]));
        }
        $c->settle('hold_1_2', 10, 5, 3);
        $c->release('hold_1_2');
        $c->recordUsage(['account' => 'x', 'model' => 'm', 'input_tokens' => 1, 'output_tokens' => 2, 'force' => true]);
        $c->getAccount('é x');
        $c->transactions('x', 2, 'txn_9');
        $c->usageReport('x', '2026-01-01', null, 'day');
        $c->topup('x', 2000, ['save_card' => true, 'success_url' => 'https://app/ok'], 'k1');
        $c->redeem('x', 'WELCOME');
        $c->plans();
        $c->browserToken('x', 600);
        $c->events(5, 10);
        $c->createAccount('x', 'workspace', ['monthly_limit_micros' => Client::clear(), 'email' => 'ops@example.com']);
        $c->grant('x', 5, 'promo');
        $c->debit('x', 5, 'why');
        $c->addMember('x', 'bob/2', 100);
        $c->removeMember('x', 'bob/2');
        $c->putPlan('pro', ['credits_micros' => 1, 'rollover' => 'none']);
        $c->referralCode('a/b');
        $c->createAccount('n', 'user', ['referral_code' => 'k3m9x2p7qa']);
        $this->assertSame([
            'POST /v1/guard/settle', 'POST /v1/guard/release', 'POST /v1/usage', 'GET /v1/accounts/%C3%A9%20x',
            'GET /v1/accounts/x/transactions?limit=2&cursor=txn_9', 'GET /v1/accounts/x/usage?from=2026-01-01&group_by=day',
            'POST /v1/accounts/x/topup', 'POST /v1/accounts/x/redeem', 'GET /v1/plans', 'POST /v1/accounts/x/browser_tokens',
            'GET /v1/events?after=5&limit=10', 'POST /v1/accounts', 'POST /v1/accounts/x/grants',
            'POST /v1/accounts/x/debits', 'POST /v1/accounts/x/members', 'DELETE /v1/accounts/x/members/bob%2F2',
            'PUT /v1/plans/pro', 'GET /v1/accounts/a%2Fb/referral_code', 'POST /v1/accounts',
        ], $this->fake->paths());
        $b = array_column($this->fake->requests, 'body');
        $this->assertSame(['hold_id' => 'hold_1_2', 'input_tokens' => 10, 'output_tokens' => 5, 'cached_input_tokens' => 3], $b[0]);
        $this->assertTrue($b[2]['force']);
        $this->assertSame(['amount_cents' => 2000, 'save_card' => true, 'success_url' => 'https://app/ok'], $b[6]);
        $this->assertSame('k1', $this->fake->requests[6]['headers']['idempotency-key']);
        $this->assertSame(['code' => 'WELCOME'], $b[7]);
        $this->assertSame(['ttl_seconds' => 600], $b[9]);
        $this->assertSame(['id' => 'x', 'kind' => 'workspace', 'monthly_limit_micros' => null, 'email' => 'ops@example.com'], $b[11]);
        $this->assertSame(['id' => 'n', 'kind' => 'user', 'referral_code' => 'k3m9x2p7qa'], $b[18]);
        $this->assertArrayNotHasKey('idempotency-key', $this->fake->requests[3]['headers'], 'no key on a GET');
    }

    public function testAlertsAreSetWholeAndRead(): void
    {
        $c = $this->client();
        $answer = ['alerts' => [['kind' => 'monthly_spend_pct', 'pct' => 80, 'state' => 'armed']]];
        $this->fake->push(FakeTransport::json(200, $answer), FakeTransport::json(200, $answer),
            FakeTransport::json(200, ['alerts' => []]));
        $set = $c->setAlerts('x y', [['kind' => 'monthly_spend_pct', 'pct' => 80]]);
        $this->assertSame($answer, $set);
        $this->assertSame($answer, $c->getAlerts('x y'));
        $this->assertSame(['alerts' => []], $c->setAlerts('x y', []));
        $this->fake->push(FakeTransport::json(200, ['alerts' => []]));
        $c->setAlerts('x', [['kind' => 'balance_below', 'micros' => '2000000']]);
        $this->assertSame(['PUT /v1/accounts/x%20y/alerts', 'GET /v1/accounts/x%20y/alerts', 'PUT /v1/accounts/x%20y/alerts',
            'PUT /v1/accounts/x/alerts'], $this->fake->paths());
        $b = array_column($this->fake->requests, 'body');
        $this->assertSame(['alerts' => [['kind' => 'monthly_spend_pct', 'pct' => 80]]], $b[0]);
        $this->assertSame('{"alerts":[]}', $this->fake->requests[2]['raw'], 'none: an empty list, not an object');
        $this->assertSame(['alerts' => [['kind' => 'balance_below', 'micros' => 2000000]]], $b[3], 'a digit string as an integer');
        $this->expectException(\InvalidArgumentException::class);
        $c->setAlerts('x', ['kind' => 'balance_below', 'micros' => 1]);
    }

    public function testSettleAndRecordUsageSendCacheWrites(): void
    {
        $c = $this->client();
        $this->fake->push(FakeTransport::json(200, []), FakeTransport::json(200, []));
        $c->settle('hold_1_2', 100, 5, 20, null, null, 40);
        $c->recordUsage(['account' => 'x', 'model' => 'm', 'input_tokens' => 100, 'output_tokens' => 5,
                         'cache_write_input_tokens' => 40.0]);
        $this->assertSame('{"hold_id":"hold_1_2","input_tokens":100,"output_tokens":5,"cached_input_tokens":20,'
            . '"cache_write_input_tokens":40}', $this->fake->requests[0]['raw']);
        $this->assertSame('{"account":"x","model":"m","input_tokens":100,"output_tokens":5,'
            . '"cache_write_input_tokens":40}', $this->fake->requests[1]['raw'], 'a whole float goes as an integer');
    }

    public function testHealthzSendsNoKey(): void
    {
        $c = $this->client();
        $this->fake->push(FakeTransport::json(200, ['status' => 'ok']));
        $this->assertSame(['status' => 'ok'], $c->healthz());
        $this->assertArrayNotHasKey('authorization', $this->fake->requests[0]['headers']);
    }

    public function errorCases(): array
    {
        return [
            [400, 'invalid_request_error', 'invalid_request', Exception\InvalidRequest::class],
            [401, 'authentication_error', 'unauthorized', Exception\Unauthorized::class],
            [402, 'insufficient_quota', 'insufficient_credits', Exception\InsufficientCredits::class],
            [403, 'permission_error', 'forbidden', Exception\Forbidden::class],
            [403, 'permission_error', 'account_suspended', Exception\AccountSuspended::class],
            [404, 'not_found_error', 'not_found', Exception\NotFound::class],
            [405, 'invalid_request_error', 'method_not_allowed', Exception\InvalidRequest::class],
            [409, 'conflict_error', 'conflict', Exception\Conflict::class],
            [409, 'conflict_error', 'already_redeemed', Exception\AlreadyRedeemed::class],
            [409, 'conflict_error', 'promo_exhausted', Exception\PromoExhausted::class],
            [409, 'conflict_error', 'promo_expired', Exception\PromoExpired::class],
            [413, 'invalid_request_error', 'payload_too_large', Exception\PayloadTooLarge::class],
            [429, 'insufficient_quota', 'billing_hard_limit_reached', Exception\BillingHardLimitReached::class],
            [429, 'insufficient_quota', 'daily_limit_reached', Exception\DailyLimitReached::class],
            [429, 'insufficient_quota', 'member_cap_reached', Exception\MemberCapReached::class],
            [429, 'rate_limit_error', 'rate_limit_exceeded', Exception\RateLimited::class],
            [500, 'api_error', 'internal_error', Exception\ServerError::class],
            [502, 'api_error', 'upstream_error', Exception\UpstreamError::class],
            [503, 'api_error', 'stripe_not_configured', Exception\StripeNotConfigured::class],
        ];
    }

    /** @dataProvider errorCases */
    public function testErrorsAreTyped(int $status, string $type, string $code, string $class): void
    {
        $c = $this->client();
        $this->fake->push(FakeTransport::error($status, $type, $code, ['available_micros' => 7, 'required_micros' => 9]));
        try {
            $c->authorize(['account' => 'a', 'request_id' => 'r', 'model' => 'm', 'input_tokens' => 1]);
            $this->fail('no exception');
        } catch (Exception\CreditdException $e) {
            $this->assertSame($class, get_class($e));
            $this->assertSame([$status, $code, $type, 7, 9], [$e->getStatus(), $e->getErrorCode(), $e->getErrorType(),
                $e->getAvailableMicros(), $e->getRequiredMicros()]);
            $this->assertSame($status, $e->getCode());
            $this->assertStringContainsString($code, $e->getMessage());
        }
        $this->assertCount(1, $this->fake->requests, 'never retried');
    }

    public function testLimitsShareABaseAndRateLimitCarriesRetryAfter(): void
    {
        $this->assertTrue(is_subclass_of(Exception\DailyLimitReached::class, Exception\LimitReached::class));
        $this->assertTrue(is_subclass_of(Exception\AccountSuspended::class, Exception\Forbidden::class));
        $c = $this->client();
        $this->fake->push(FakeTransport::error(429, 'rate_limit_error', 'rate_limit_exceeded',
            ['retry_after_seconds' => 42], ['Retry-After' => '42']));
        try {
            $c->authorize(['account' => 'a', 'request_id' => 'r', 'model' => 'm', 'input_tokens' => 1]);
            $this->fail('no exception');
        } catch (Exception\RateLimited $e) {
            $this->assertSame(42, $e->getRetryAfter());
        }
    }

    public function testA503IsRetriedWithTheSameKeyAfterRetryAfter(): void
    {
        $c = $this->client(['max_retries' => 3]);
        $this->fake->push(
            FakeTransport::error(503, 'api_error', 'unavailable', [], ['Retry-After' => '2']),
            new ConnectionFailed('connection reset'),
            FakeTransport::json(200, ['hold_id' => 'hold_1_3', 'charged_micros' => 5])
        );
        $this->assertSame(5, $c->settle('hold_1_3', 1, 1)['charged_micros']);
        $keys = array_map(static function ($r) {
            return $r['headers']['idempotency-key'];
        }, $this->fake->requests);
        $this->assertCount(3, $keys);
        $this->assertCount(1, array_unique($keys), 'the same Idempotency-Key on every try');
        $this->assertSame(array_fill(0, 3, $this->fake->requests[0]['raw']), array_column($this->fake->requests, 'raw'));
        $this->assertSame(2.0, $this->slept[0], 'Retry-After honoured');
        $this->assertCount(2, $this->slept);
        $this->assertTrue($this->slept[1] >= 0.25 && $this->slept[1] <= 0.5, 'then 500 ms with jitter: ' . $this->slept[1]);
    }

    public function testTheCallersKeyIsKeptAcrossRetries(): void
    {
        $c = $this->client();
        $this->fake->push(new ConnectionFailed('timeout'), FakeTransport::json(201, ['grant_id' => 'g']));
        $c->redeem('x', 'CODE', 'mine');
        $this->assertSame(['mine', 'mine'], array_map(static function ($r) {
            return $r['headers']['idempotency-key'];
        }, $this->fake->requests));
    }

    public function testRetriesAreBounded(): void
    {
        $c = $this->client(['max_retries' => 2]);
        for ($i = 0; $i < 3; $i++) {
            $this->fake->push(FakeTransport::error(503, 'api_error', 'unavailable', [], ['Retry-After' => '1']));
        }
        try {
            $c->getAccount('x');
            $this->fail('no exception');
        } catch (Exception\Unavailable $e) {
            $this->assertSame(1, $e->getRetryAfter());
        }
        $this->assertCount(3, $this->fake->requests);
        $this->assertSame([1.0, 1.0], $this->slept);
    }

    public function testARetryAfterBeyondTheWaitCapIsNotWaitedFor(): void
    {
        $c = $this->client(['max_retry_delay_ms' => 5000]);
        $this->fake->push(FakeTransport::error(503, 'api_error', 'unavailable', [], ['Retry-After' => '30']));
        $this->expectException(Exception\Unavailable::class);
        try {
            $c->getAccount('x');
        } finally {
            $this->assertSame([], $this->slept);
        }
    }

    public function testA503WithoutACodeIsUnavailableAndRetried(): void
    {
        $c = $this->client();
        $this->fake->push(new Response(503, '<html>Service Unavailable</html>'), FakeTransport::json(200, ['ok' => true]));
        $this->assertSame(['ok' => true], $c->models());
        $this->assertCount(2, $this->fake->requests);
        $this->assertCount(1, $this->slept);
    }

    public function testUnavailableWithA502Or504IsRetriedLikeA503(): void
    {
        // Apache's ErrorDocument (apache/errors/502.json) answers 502 and 504 with code unavailable.
        foreach ([502, 504, 500] as $status) {
            $c = $this->client();
            $this->fake->push(
                FakeTransport::error($status, 'api_error', 'unavailable', [], ['Retry-After' => '2']),
                FakeTransport::error($status, 'api_error', 'unavailable', [], ['Retry-After' => '2']),
                FakeTransport::json(200, ['hold_id' => 'h', 'charged_micros' => 5])
            );
            $this->assertSame(5, $c->settle('h', 10, 5)['charged_micros'], (string) $status);
            $this->assertSame([2.0, 2.0], $this->slept, (string) $status);
            $this->assertCount(3, $this->fake->requests);
            $this->assertCount(1, array_unique(array_map(static function ($r) {
                return $r['headers']['idempotency-key'];
            }, $this->fake->requests)), 'the same Idempotency-Key on every try');
        }
    }

    public function testAProxys502Or504PageIsUnavailableAndRetried(): void
    {
        foreach ([502, 504] as $status) {
            $page = "<html><body>$status</body></html>";
            $c = $this->client(['retry_delay_ms' => 100]);
            $this->fake->push(new Response($status, $page), new Response($status, $page, ['Content-Type' => 'text/html']),
                FakeTransport::json(200, ['ok' => true]));
            $this->assertSame(['ok' => true], $c->grant('a', 5, 'promo'));
            $this->assertCount(3, $this->fake->requests, (string) $status);
            $this->assertCount(1, array_unique(array_map(static function ($r) {
                return $r['headers']['idempotency-key'];
            }, $this->fake->requests)), 'one key');
            $this->assertTrue($this->slept[0] >= 0.05 && $this->slept[0] <= 0.1 && $this->slept[1] >= 0.1
                && $this->slept[1] <= 0.2, 'backoff: ' . json_encode($this->slept));

            $c = $this->client(['max_retries' => 3]);
            for ($i = 0; $i < 4; $i++) {
                $this->fake->push(new Response($status, $page, ['Retry-After' => '1']));
            }
            try {
                $c->models();
                $this->fail('no exception');
            } catch (Exception\Unavailable $e) {
                $this->assertSame([$status, null, null], [$e->getStatus(), $e->getErrorCode(), $e->getBody()]);
                $this->assertStringContainsString((string) $status, $e->getMessage());
            }
            $this->assertSame([1.0, 1.0, 1.0], $this->slept);
            $this->assertCount(4, $this->fake->requests);
        }
    }

    public function testUpstreamErrorAndOther5xxCodesAreNotRetried(): void
    {
        foreach ([[502, 'upstream_error', Exception\UpstreamError::class], [504, 'internal_error', Exception\ServerError::class],
                  [502, 'no_such_code', Exception\UpstreamError::class],
                  [503, 'stripe_not_configured', Exception\StripeNotConfigured::class]] as [$status, $code, $class]) {
            $c = $this->client();
            $this->fake->push(FakeTransport::error($status, 'api_error', $code, [], ['Retry-After' => '1']),
                FakeTransport::json(200, []));
            try {
                $c->topup('a', 500);
                $this->fail('no exception');
            } catch (Exception\CreditdException $e) {
                $this->assertSame($class, get_class($e), "$status $code");
            }
            $this->assertCount(1, $this->fake->requests, "$status $code is not retried");
            $this->assertSame([], $this->slept);
        }
    }

    public function testAProxys429PageIsRateLimitedNotASpendingLimit(): void
    {
        $c = $this->client();
        $page = '<html><head><title>429 Too Many Requests</title></head><body>nginx</body></html>';
        $this->fake->push(new Response(429, $page, ['Retry-After' => '7', 'Content-Type' => 'text/html']),
            FakeTransport::json(200, []));
        try {
            $c->authorize(['account' => 'a', 'request_id' => 'r', 'model' => 'm', 'input_tokens' => 1]);
            $this->fail('no exception');
        } catch (Exception\CreditdException $e) {
            $this->assertSame(Exception\RateLimited::class, get_class($e));
            $this->assertNotInstanceOf(Exception\LimitReached::class, $e);
            $this->assertSame([429, null, 7], [$e->getStatus(), $e->getErrorCode(), $e->getRetryAfter()]);
        }
        $this->assertCount(1, $this->fake->requests, 'a rate limit is not retried');
        $c = $this->client();
        $this->fake->push(new Response(429, ''));
        try {
            $c->models();
            $this->fail('no exception');
        } catch (Exception\RateLimited $e) {
            $this->assertNull($e->getRetryAfter());
        }
    }

    public function testRetriesOffMeansOneTryAndNoKeyInvented(): void
    {
        $c = $this->client(['max_retries' => 0]);
        $this->fake->push(new ConnectionFailed('refused'));
        try {
            $c->release('hold_1_1');
            $this->fail('no exception');
        } catch (ConnectionFailed $e) {
            $this->assertNull($e->getStatus());
            $this->assertStringContainsString('refused', $e->getMessage());
        }
        $this->assertCount(1, $this->fake->requests);
        $this->assertArrayNotHasKey('idempotency-key', $this->fake->requests[0]['headers']);
    }

    public function testANonJsonSuccessIsAnError(): void
    {
        $c = $this->client();
        $this->fake->push(new Response(200, '<html>proxy</html>'));
        $this->expectException(Exception\CreditdException::class);
        $c->models();
    }

    public function testIterTransactionsFollowsTheCursor(): void
    {
        $c = $this->client();
        $this->fake->push(
            FakeTransport::json(200, ['data' => [['id' => 'txn_5'], ['id' => 'txn_4']], 'next_cursor' => 'txn_4', 'has_more' => true]),
            FakeTransport::json(200, ['data' => [['id' => 'txn_3']], 'next_cursor' => null, 'has_more' => false])
        );
        $ids = [];
        foreach ($c->iterTransactions('x', 2) as $t) {
            $ids[] = $t['id'];
        }
        $this->assertSame(['txn_5', 'txn_4', 'txn_3'], $ids);
        $this->assertSame(['GET /v1/accounts/x/transactions?limit=2', 'GET /v1/accounts/x/transactions?limit=2&cursor=txn_4'],
            $this->fake->paths());
    }

    public function testIterEventsFollowsNextAfterAndStops(): void
    {
        $c = $this->client();
        $this->fake->push(
            FakeTransport::json(200, ['data' => [['id' => 11], ['id' => 12]], 'next_after' => 12]),
            FakeTransport::json(200, ['data' => [['id' => 13]], 'next_after' => 13]),
            FakeTransport::json(200, ['data' => [], 'next_after' => 13])
        );
        $this->assertSame([11, 12, 13], array_column(iterator_to_array($c->iterEvents(10, 2), false), 'id'));
        $this->assertSame(['GET /v1/events?after=10&limit=2', 'GET /v1/events?after=12&limit=2',
                           'GET /v1/events?after=13&limit=2'], $this->fake->paths());
    }

    public function testUnknownOptionsAreRefused(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        new Client('http://x', 'k', ['timout' => 3]);
    }

    private static function inProgress(): Response
    {
        return FakeTransport::json(409, ['error' => ['type' => 'invalid_request_error', 'code' => 'conflict',
            'message' => 'a top-up with this Idempotency-Key is in progress', 'param' => 'idempotency_key']]);
    }

    public function testATopupInProgressIsWaitedOutWithTheSameKeyApartFromMaxRetries(): void
    {
        $c = $this->client(['max_retries' => 1, 'retry_delay_ms' => 100]);
        $this->fake->push(self::inProgress(), self::inProgress(), self::inProgress(),
            FakeTransport::json(200, ['checkout_url' => 'https://stripe.test/c', 'session_id' => 'cs_1']));
        $this->assertSame('cs_1', $c->topup('a', 2000, [], 'topup-7')['session_id']);
        $this->assertSame(array_fill(0, 4, 'topup-7'), array_map(static function ($r) {
            return $r['headers']['idempotency-key'];
        }, $this->fake->requests));
        $this->assertCount(3, $this->slept);
        $this->assertTrue($this->slept[0] >= 0.05 && $this->slept[0] <= 0.1 && $this->slept[2] >= 0.2
            && $this->slept[2] <= 0.4, json_encode($this->slept));
    }

    public function testTopupInProgressWaitsAddUpToMaxRetryDelayMsAtMost(): void
    {
        $c = $this->client(['retry_delay_ms' => 1000, 'max_retry_delay_ms' => 3000]);
        for ($i = 0; $i < 20; $i++) {
            $this->fake->push(self::inProgress());
        }
        try {
            $c->topup('a', 2000);
            $this->fail('no exception');
        } catch (Exception\Conflict $e) {
            $this->assertSame('idempotency_key', $e->getParam());
        }
        $this->assertLessThanOrEqual(3.0, array_sum($this->slept));
        $this->assertGreaterThanOrEqual(2, count($this->slept));
        $this->assertCount(count($this->slept) + 1, $this->fake->requests);
    }

    public function testAKeyUsedWithAnotherRequestOrRetriesOffIsNotRetried(): void
    {
        $c = $this->client();
        $this->fake->push(FakeTransport::json(409, ['error' => ['type' => 'invalid_request_error', 'code' => 'conflict',
            'message' => 'this Idempotency-Key was used with another request', 'param' => 'idempotency_key']]));
        try {
            $c->topup('a', 2000, [], 'k');
            $this->fail('no exception');
        } catch (Exception\Conflict $e) {
            $this->assertSame([1, []], [count($this->fake->requests), $this->slept]);
        }
        $c = $this->client(['max_retries' => 0]);
        $this->fake->push(self::inProgress());
        $this->expectException(Exception\Conflict::class);
        $c->topup('a', 2000, [], 'k');
    }

    public function testRetryAfterIsSecondsFromTheHeaderElseTheBody(): void
    {
        $cases = [[['Retry-After' => '3'], [], 3], [[], ['retry_after_seconds' => 4], 4],
                  [['Retry-After' => '5'], ['retry_after_seconds' => 9], 5],
                  [['Retry-After' => 'Wed, 21 Oct 2037 07:28:00 GMT'], ['retry_after_seconds' => 6], 6],
                  [['Retry-After' => 'Wed, 21 Oct 2037 07:28:00 GMT'], [], null], [['Retry-After' => '2.5'], [], null],
                  [['Retry-After' => '+2'], [], null], [['Retry-After' => '-1'], [], null],
                  [[], ['retry_after_seconds' => -1], null], [[], ['retry_after_seconds' => '7'], null]];
        foreach ($cases as [$headers, $extra, $want]) {
            $e = new Exception\RateLimited(429, ['error' => ['code' => 'rate_limit_exceeded'] + $extra],
                array_change_key_case($headers, CASE_LOWER));
            $this->assertSame($want, $e->getRetryAfter(), json_encode([$headers, $extra]));
        }
    }
}
