<?php

declare(strict_types=1);

namespace Creditd;

use Creditd\Exception\AccountSuspended;
use Creditd\Exception\AlreadyRedeemed;
use Creditd\Exception\BillingHardLimitReached;
use Creditd\Exception\Conflict;
use Creditd\Exception\CreditdException;
use Creditd\Exception\DailyLimitReached;
use Creditd\Exception\Forbidden;
use Creditd\Exception\InsufficientCredits;
use Creditd\Exception\InvalidRequest;
use Creditd\Exception\LimitReached;
use Creditd\Exception\MemberCapReached;
use Creditd\Exception\NotFound;
use Creditd\Exception\PayloadTooLarge;
use Creditd\Exception\PromoExhausted;
use Creditd\Exception\PromoExpired;
use Creditd\Exception\ProviderNotConfigured;
use Creditd\Exception\RateLimited;
use Creditd\Exception\ServerError;
use Creditd\Exception\StripeNotConfigured;
use Creditd\Exception\Unauthorized;
use Creditd\Exception\Unavailable;
use Creditd\Exception\UpstreamError;
use Creditd\Transport\CurlTransport;
use Creditd\Transport\Headers;
use Creditd\Transport\Response;
use Creditd\Transport\StreamTransport;
use Creditd\Transport\Transport;

/**
 * One API key against one creditd (server to server; never from a browser).
 *
 * Every method maps one route and returns the decoded JSON answer as an
 * array; an error answer throws a subclass of CreditdException (see
 * Exception/). Amounts are integer micros (1 EUR = 1,000,000), top-ups cents.
 *
 * Retries: an Unavailable (a 503 `unavailable`, the database away;
 * `gateway_busy`; or one without a code this client knows; `unavailable` with
 * any 5xx, Apache's error pages; a 502 or 504 without creditd's JSON error, a
 * web server that could not reach creditd) and a request that got no answer
 * are sent again, at most `max_retries` times, after Retry-After seconds (else a short
 * backoff), with the same Idempotency-Key: a write the first try did commit is
 * answered from creditd's record, never done twice. A write given no key gets
 * a random one for that purpose. A top-up "in progress" (409, isInProgress():
 * a retry met the first try still calling Stripe) is waited out within
 * max_retry_delay_ms, apart from max_retries.
 *
 * The options and the exception classes are the Python and Node clients'
 * too (clients/vocabulary.json in creditd's source tree).
 */
class Client
{
    /**
     * The client's version: creditd's own (configure.ac), which the client is
     * released with. Not in composer.json: Composer takes a path or VCS
     * package's version from where it comes from, and `composer validate`
     * warns against a "version" field.
     */
    const VERSION = '0.2.0';

    /** The options and their defaults: one vocabulary with the Python and Node clients. */
    private const DEFAULTS = [
        'timeout_ms' => 10000,          // one try: connecting, sending, reading the answer
        'max_retries' => 2,             // tries after the first, of Unavailable and ConnectionFailed
        'retry_delay_ms' => 250,        // the first backoff without a Retry-After, doubled each try, with jitter
        'max_retry_delay_ms' => 10000,  // a longer wait (Retry-After or backoff) is not made: the error is thrown
        'user_agent' => null,           // null: creditd-client-php/VERSION
    ];

    /**
     * The range of each number option (clients/vocabulary.json): a value beyond it is a mistake
     * of unit or a runaway (an hour for one try or one wait, 100 retries).
     */
    private const RANGES = [
        'timeout_ms' => [1, 3600000],
        'max_retries' => [0, 100],
        'retry_delay_ms' => [0, 3600000],
        'max_retry_delay_ms' => [0, 3600000],
    ];

    /** Former option names, still taken: [current name, factor to its unit]. */
    private const DEPRECATED = [
        'timeout' => ['timeout_ms', 1000],
        'retries' => ['max_retries', 1],
        'max_retry_wait' => ['max_retry_delay_ms', 1000],
    ];

    /** At most this many tries after a top-up "in progress" answer, whatever the waits add up to. */
    private const IN_PROGRESS_RETRIES = 8;

    /** creditd takes an Idempotency-Key of 1 to 255 printable bytes (src/limits.h). */
    private const MAX_IDEMPOTENCY_KEY_BYTES = 255;

    /** Fields that must go out as JSON integers. */
    private const INT_FIELDS = [
        'amount_micros', 'amount_cents', 'overdraft_limit_micros', 'monthly_limit_micros', 'daily_limit_micros',
        'low_balance_micros', 'monthly_cap_micros', 'credits_micros', 'rollover_cap_micros', 'member_cap_micros',
        'input_tokens', 'max_output_tokens', 'min_output_tokens', 'output_tokens', 'cached_input_tokens',
        'cache_write_input_tokens', 'ttl_seconds', 'priority', 'max_redemptions', 'grant_ttl_days', 'requests_per_minute',
        'tokens_per_minute', 'threshold_micros',
    ];

    /** @var string */
    private $baseUrl;
    /** @var string */
    private $apiKey;
    /** @var array{timeout_ms:int,max_retries:int,retry_delay_ms:int,max_retry_delay_ms:int,user_agent:string} */
    private $options;
    /** @var Transport */
    private $transport;
    /** @var callable(float):void */
    private $sleep;

    /**
     * @param string $baseUrl where creditd is mounted, e.g. "https://billing.example.com/credits"
     * @param string $apiKey a guard, read, app or admin key
     * @param array $options
     *   - timeout_ms: milliseconds one try may take (default 10000)
     *   - max_retries: tries after the first of an Unavailable (503 `unavailable`, `gateway_busy`, or
     *     without a code this client knows; `unavailable` with any 5xx; a 502 or 504 without
     *     creditd's JSON error) or of no answer (default 2; 0 turns retries off)
     *   - retry_delay_ms: the first wait before a retry when creditd names no Retry-After, doubled
     *     each try, with jitter (default 250)
     *   - max_retry_delay_ms: the longest wait before a retry (default 10000); a longer one
     *     (Retry-After or backoff) is not made: the error is thrown
     *   - user_agent: the User-Agent header (default "creditd-client-php/VERSION"); it, the API key
     *     and every Idempotency-Key are printable ASCII, else InvalidArgumentException (Transport\Headers)
     *   - transport: "curl", "stream" or a Transport (default: curl when ext-curl is loaded, else stream)
     *   - sleep: callable(float $seconds) used to wait (default usleep; tests pass their own)
     *   - timeout (seconds), retries, max_retry_wait (seconds): the former names, still taken (deprecated)
     * A number option is an int, a whole float or a string of digits within its range (RANGES:
     * timeout_ms 1 to 3600000, max_retries 0 to 100, the other two 0 to 3600000); null takes the
     * default. Anything else, and an unknown option, throws InvalidArgumentException.
     */
    public function __construct(string $baseUrl, string $apiKey, array $options = [])
    {
        $this->baseUrl = rtrim($baseUrl, '/');
        $this->apiKey = Headers::value('the API key', $apiKey);
        $this->options = self::options($options);
        $this->sleep = $options['sleep'] ?? static function (float $seconds): void {
            usleep((int) round($seconds * 1e6));
        };
        $transport = $options['transport'] ?? (extension_loaded('curl') ? 'curl' : 'stream');
        if ($transport instanceof Transport) {
            $this->transport = $transport;
        } elseif ($transport === 'curl') {
            $this->transport = new CurlTransport();
        } elseif ($transport === 'stream') {
            $this->transport = new StreamTransport();
        } else {
            throw new \InvalidArgumentException('transport must be "curl", "stream" or a Creditd\Transport\Transport');
        }
    }

    /**
     * The vocabulary's options from the given ones: unknown names refused, former ones converted
     * (with an E_USER_DEPRECATED notice), null taken as "the default", and each number checked to
     * be a whole number within its range (RANGES).
     */
    private static function options(array $given): array
    {
        $known = array_merge(array_keys(self::DEFAULTS), array_keys(self::DEPRECATED), ['transport', 'sleep']);
        $unknown = array_diff(array_keys($given), $known);
        if ($unknown) {
            throw new \InvalidArgumentException('unknown option(s): ' . implode(', ', $unknown));
        }
        foreach (self::DEPRECATED as $old => [$name, $factor]) {
            if (isset($given[$old])) {
                trigger_error("creditd: the option $old is deprecated, use $name", E_USER_DEPRECATED);
                if (!is_int($given[$old]) && !is_float($given[$old]) && !(is_string($given[$old]) && is_numeric($given[$old]))) {
                    throw new \InvalidArgumentException("the option $old must be a number");
                }
                $given[$name] = round((float) $given[$old] * $factor);
            }
        }
        $o = array_filter(array_intersect_key($given, self::DEFAULTS), static function ($v): bool {
            return $v !== null;
        }) + self::DEFAULTS;
        $options = [];
        foreach (self::RANGES as $name => [$low, $high]) {
            $options[$name] = self::wholeOption($name, $o[$name], $low, $high);
        }
        if ($o['user_agent'] !== null && !is_string($o['user_agent'])) {
            throw new \InvalidArgumentException('the option user_agent must be a string');
        }
        $options['user_agent'] = Headers::value('user_agent', $o['user_agent'] ?? 'creditd-client-php/' . self::VERSION);
        return $options;
    }

    /** A number option: an int, a whole float or a string of digits, from $low to $high. */
    private static function wholeOption(string $name, $value, int $low, int $high): int
    {
        if (is_float($value) && is_finite($value) && floor($value) === $value && abs($value) < 9.0e15) {
            $value = (int) $value;
        } elseif (is_string($value) && preg_match('/\A-?[0-9]{1,18}\z/', $value)) {
            $value = (int) $value;
        }
        if (!is_int($value) || $value < $low || $value > $high) {
            throw new \InvalidArgumentException(sprintf('the option %s must be a whole number from %d to %d, not %s',
                $name, $low, $high, is_scalar($value) ? var_export($value, true) : gettype($value)));
        }
        return $value;
    }

    /**
     * The options in force (timeout_ms, max_retries, retry_delay_ms,
     * max_retry_delay_ms, user_agent), with their defaults filled in.
     */
    public function getOptions(): array
    {
        return $this->options;
    }

    /** A field value sent as JSON null (a null value is left out): removes a limit, a plan, a cap. */
    public static function clear(): Clear
    {
        return Clear::instance();
    }

    /** "curl", "stream" or the name of the Transport given. */
    public function getTransport(): string
    {
        return $this->transport->name();
    }

    // ---- service ----

    /** GET /healthz (no key): ["status" => "ok"]; Unavailable while the database is down. */
    public function healthz(): array
    {
        return $this->request('GET', '/healthz', null, [], null, false);
    }

    /** GET /v1/models (read): margin_bps, currency, data[] (prices per model), actions[]. */
    public function models(): array
    {
        return $this->request('GET', '/v1/models');
    }

    // ---- accounts ----

    /**
     * POST /v1/accounts (admin). $fields: overdraft_limit_micros, monthly_limit_micros,
     * daily_limit_micros, low_balance_micros, plan, email (where the account's alerts are mailed),
     * referral_code (another account's code: the new account is referred by it; unknown:
     * InvalidRequest, nothing created), ... The same body again answers the account.
     */
    public function createAccount(string $id, string $kind = 'user', array $fields = [],
                                  ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/accounts', ['id' => $id, 'kind' => $kind] + $fields, [], $idempotencyKey);
    }

    /** GET /v1/accounts/{id} (read): balance, reserved, available, limits, plan, grants[]. */
    public function getAccount(string $id): array
    {
        return $this->request('GET', self::acct($id));
    }

    /** PATCH /v1/accounts/{id} (admin): status, limits, plan, auto_recharge, email (Client::clear() removes). */
    public function patchAccount(string $id, array $fields, ?string $idempotencyKey = null): array
    {
        return $this->request('PATCH', self::acct($id), $fields, [], $idempotencyKey);
    }

    /** GET /v1/accounts/{id}/transactions (read): one page, newest first: data[], next_cursor, has_more. */
    public function transactions(string $id, ?int $limit = null, ?string $cursor = null): array
    {
        return $this->request('GET', self::acct($id) . '/transactions', null, ['limit' => $limit, 'cursor' => $cursor]);
    }

    /**
     * Every journal entry, newest first, following next_cursor page by page
     * ($pageSize 1-200, default creditd's 50). Lazy: a page is fetched when reached.
     *
     * @return \Generator<int, array>
     */
    public function iterTransactions(string $id, ?int $pageSize = null): \Generator
    {
        $cursor = null;
        do {
            $page = $this->transactions($id, $pageSize, $cursor);
            foreach ($page['data'] ?? [] as $entry) {
                yield $entry;
            }
            $cursor = $page['next_cursor'] ?? null;
        } while (is_string($cursor) && $cursor !== '');
    }

    /**
     * GET /v1/accounts/{id}/usage (read): requests, tokens and cost in [from, to).
     * $from, $to: RFC 3339 or YYYY-MM-DD; $groupBy: model (default), day or member.
     */
    public function usageReport(string $id, ?string $from = null, ?string $to = null, ?string $groupBy = null): array
    {
        return $this->request('GET', self::acct($id) . '/usage', null,
            ['from' => $from, 'to' => $to, 'group_by' => $groupBy]);
    }

    /** POST /v1/accounts/{id}/grants (admin). $source: promo|adjustment|signup_bonus; $fields: expires_at, priority, description. */
    public function grant(string $id, int $amountMicros, string $source, array $fields = [],
                          ?string $idempotencyKey = null): array
    {
        return $this->request('POST', self::acct($id) . '/grants',
            ['amount_micros' => $amountMicros, 'source' => $source] + $fields, [], $idempotencyKey);
    }

    /** POST /v1/accounts/{id}/debits (admin): a negative adjustment. */
    public function debit(string $id, int $amountMicros, string $reason, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', self::acct($id) . '/debits',
            ['amount_micros' => $amountMicros, 'reason' => $reason], [], $idempotencyKey);
    }

    /** POST /v1/accounts/{id}/members (admin): adds or updates a member; Client::clear() as the cap removes it. */
    public function addMember(string $id, string $member, $monthlyCapMicros = null, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', self::acct($id) . '/members',
            ['member' => $member, 'monthly_cap_micros' => $monthlyCapMicros], [], $idempotencyKey);
    }

    /** DELETE /v1/accounts/{id}/members/{member} (admin); NotFound when unknown. */
    public function removeMember(string $id, string $member, ?string $idempotencyKey = null): array
    {
        return $this->request('DELETE', self::acct($id) . '/members/' . rawurlencode($member),
            null, [], $idempotencyKey);
    }

    // ---- what an app backend starts for its user (app key) ----

    /**
     * POST /v1/accounts/{id}/topup (app): a Stripe Checkout Session; send the user to checkout_url.
     * $fields: success_url, cancel_url, save_card (true: keep the card for auto-recharge).
     */
    public function topup(string $id, int $amountCents, array $fields = [], ?string $idempotencyKey = null): array
    {
        return $this->request('POST', self::acct($id) . '/topup', ['amount_cents' => $amountCents] + $fields,
            [], $idempotencyKey);
    }

    /**
     * POST /v1/accounts/{id}/redeem (app): a promo code as a promo grant: grant_id, amount_micros,
     * expires_at. NotFound (unknown code), AlreadyRedeemed, PromoExhausted, PromoExpired.
     */
    public function redeem(string $id, string $code, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', self::acct($id) . '/redeem', ['code' => $code], [], $idempotencyKey);
    }

    /**
     * PUT /v1/accounts/{id}/alerts (app): the account's threshold alerts, replaced whole
     * ([] for none): a list of ['kind' => ..., 'pct' => 1-100] or, for balance_below,
     * ['kind' => 'balance_below', 'micros' => ...]; member_cap_pct takes 'member' (absent: every
     * member). At most 16. Answers ['alerts' => [...]] as getAlerts does.
     *
     * @param list<array<string, mixed>> $alerts
     */
    public function setAlerts(string $id, array $alerts): array
    {
        if ($alerts !== array_values($alerts)) {
            throw new \InvalidArgumentException('alerts must be a list of [kind, pct | micros, member?]');
        }
        foreach ($alerts as $i => $alert) {
            foreach (['pct', 'micros'] as $name) {
                if (is_array($alert) && isset($alert[$name])) {
                    $alerts[$i][$name] = self::toInt($name, $alert[$name]);
                }
            }
        }
        return $this->request('PUT', self::acct($id) . '/alerts', ['alerts' => $alerts]);
    }

    /** GET /v1/accounts/{id}/alerts (read): ['alerts' => [[kind, pct | micros, member?, state, ...]]]. */
    public function getAlerts(string $id): array
    {
        return $this->request('GET', self::acct($id) . '/alerts');
    }

    /**
     * GET /v1/accounts/{id}/referral_code (app): {code}, the account's referral code, made the
     * first time it is asked for and the same ever after. An account created with it
     * (createAccount(..., ['referral_code' => $code])) is referred by this one.
     */
    public function referralCode(string $id): array
    {
        return $this->request('GET', self::acct($id) . '/referral_code');
    }

    /**
     * POST /v1/accounts/{id}/browser_tokens (app): {token, expires_at} for the widget on the
     * user's page ($ttlSeconds 60-3600, default 900). $fields: what else the route takes.
     */
    public function browserToken(string $id, ?int $ttlSeconds = null, array $fields = []): array
    {
        return $this->request('POST', self::acct($id) . '/browser_tokens', ['ttl_seconds' => $ttlSeconds] + $fields);
    }

    // ---- plans and promo codes ----

    /** GET /v1/plans (read): {"data": [{name, credits_micros, rollover, ...}]}. */
    public function plans(): array
    {
        return $this->request('GET', '/v1/plans');
    }

    /** PUT /v1/plans/{name} (admin): creates or replaces a plan; $fields: credits_micros, rollover, ... */
    public function putPlan(string $name, array $fields, ?string $idempotencyKey = null): array
    {
        return $this->request('PUT', '/v1/plans/' . rawurlencode($name), $fields, [], $idempotencyKey);
    }

    /** POST /v1/promo_codes (admin); $fields: max_redemptions, expires_at, grant_ttl_days. */
    public function createPromoCode(string $code, int $amountMicros, array $fields = [],
                                    ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/promo_codes', ['code' => $code, 'amount_micros' => $amountMicros] + $fields,
            [], $idempotencyKey);
    }

    // ---- events ----

    /** GET /v1/events (admin): one page of the outbox after an event id, oldest first: data[], next_after. */
    public function events(?int $after = null, ?int $limit = null): array
    {
        return $this->request('GET', '/v1/events', null, ['after' => $after, 'limit' => $limit]);
    }

    /**
     * Every event after $after, oldest first, following next_after page by page; ends at the
     * last event there is now. Keep the last id handled and start from it next time.
     *
     * @return \Generator<int, array>
     */
    public function iterEvents(int $after = 0, ?int $pageSize = null): \Generator
    {
        while (true) {
            $page = $this->events($after, $pageSize);
            $data = $page['data'] ?? [];
            foreach ($data as $event) {
                yield $event;
            }
            $next = isset($page['next_after']) ? (int) $page['next_after'] : $after;
            if (!$data || $next <= $after) {
                return;
            }
            $after = $next;
        }
    }

    /** Signature::verify(): checks a pushed event's Creditd-Signature and returns the event. */
    public static function verifyEvent(string $payload, string $header, $secret,
                                       int $tolerance = Signature::DEFAULT_TOLERANCE, ?int $now = null): array
    {
        return Signature::verify($payload, $header, $secret, $tolerance, $now);
    }

    // ---- chat guard ----

    /**
     * POST /v1/guard/authorize (guard): holds the worst-case cost.
     * $params: account, request_id, and model + input_tokens [+ max_output_tokens [+ min_output_tokens]]
     * or action; optional member, ttl_seconds, byok, conversation_id. Null values are not sent.
     * Returns hold_id, amount_micros, available_micros, expires_at and max_output_tokens: the output
     * cap to give the model (with min_output_tokens, fewer than asked when only that many were
     * affordable, instead of a refusal). Throws InsufficientCredits, LimitReached (its subclasses),
     * RateLimited, AccountSuspended, NotFound.
     */
    public function authorize(array $params, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/guard/authorize', $params, [], $idempotencyKey);
    }

    /**
     * POST /v1/guard/settle (guard): charges the tokens used ($inputTokens counts cached ones and
     * cache writes too). $cacheWriteInputTokens: the input written to the provider's prompt cache
     * (Anthropic's cache_creation_input_tokens), charged at the model's cache-write price.
     */
    public function settle(string $holdId, int $inputTokens, int $outputTokens, ?int $cachedInputTokens = null,
                           ?string $model = null, ?string $idempotencyKey = null,
                           ?int $cacheWriteInputTokens = null): array
    {
        return $this->request('POST', '/v1/guard/settle', [
            'hold_id' => $holdId, 'input_tokens' => $inputTokens, 'output_tokens' => $outputTokens,
            'cached_input_tokens' => $cachedInputTokens, 'cache_write_input_tokens' => $cacheWriteInputTokens,
            'model' => $model,
        ], [], $idempotencyKey);
    }

    /** POST /v1/guard/release (guard): voids a hold (the call produced nothing); Conflict when it was settled. */
    public function release(string $holdId, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/guard/release', ['hold_id' => $holdId], [], $idempotencyKey);
    }

    /**
     * POST /v1/usage (guard): charges usage with no hold, checked like authorize. $params: account,
     * model + input_tokens + output_tokens [+ cached_input_tokens, cache_write_input_tokens: parts of
     * input_tokens, as in settle()] or action; optional member,
     * request_id, conversation_id, byok, and force (true: charged whatever the checks say, since
     * the tokens were spent).
     */
    public function recordUsage(array $params, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/usage', $params, [], $idempotencyKey);
    }

    /**
     * Wraps one model call: authorizes ($params as for authorize()), runs $call(Guard $hold) and
     * returns what it returns. Tell the guard what the call produces (Guard::openaiStream(),
     * anthropicStream(), stream(), usage(), chunk()) or return the provider's response (an
     * OpenAI- or Anthropic-shaped array or object: its usage is read). When $call returns or
     * throws without a settle of its own, the hold is settled with what was produced, or
     * released when nothing was; what $call threw is thrown again after that.
     *
     * @return mixed what $call returned
     */
    public function guard(array $params, callable $call, ?string $idempotencyKey = null)
    {
        $hold = new Guard($this, $params);
        $hold->authorize($idempotencyKey);
        try {
            $result = $call($hold);
        } catch (\Throwable $e) {
            $hold->finish($e);
            throw $e;
        }
        $hold->absorbResponse($result);
        $hold->finish(null);
        return $result;
    }

    // ---- transport ----

    /**
     * One API call with retries: returns the decoded JSON answer or throws a CreditdException.
     * $path is below the base URL; null values in $body and $query are dropped. A path, API key,
     * user agent or Idempotency-Key that cannot go on the wire as it is (a control or non-ASCII
     * byte, or a key not 1 to 255 bytes long) throws InvalidArgumentException before anything is
     * sent (Transport\Headers).
     */
    public function request(string $method, string $path, ?array $body = null, array $query = [],
                            ?string $idempotencyKey = null, bool $auth = true): array
    {
        $url = $this->baseUrl . $path;
        $query = array_filter($query, static function ($v): bool {
            return $v !== null;
        });
        if ($query) {
            $url .= '?' . http_build_query($query, '', '&', PHP_QUERY_RFC3986);
        }
        if (!preg_match('/\A[!-~]*\z/', $path)) {
            throw new \InvalidArgumentException('the path must be visible ASCII (URL-encoded): no space, CR, LF or'
                . ' other control byte');
        }
        Headers::url($url);
        $headers = ['Accept: application/json', 'User-Agent: ' . $this->options['user_agent']];
        $payload = null;
        if ($body !== null) {
            $payload = self::encode($body);
            $headers[] = 'Content-Type: application/json';
        }
        if ($auth) {
            $headers[] = 'Authorization: Bearer ' . Headers::value('the API key', $this->apiKey);
        }
        $write = !in_array($method, ['GET', 'HEAD'], true);
        if ($idempotencyKey === null && $write && $this->options['max_retries'] > 0) {
            $idempotencyKey = 'php-' . bin2hex(random_bytes(16)); // makes the retries below safe
        }
        if ($idempotencyKey !== null) {
            $headers[] = 'Idempotency-Key: ' . Headers::value('Idempotency-Key', $idempotencyKey, 1, self::MAX_IDEMPOTENCY_KEY_BYTES);
        }
        $try = 0;
        $inProgress = ['waits' => 0, 'waited_ms' => 0.0];
        while (true) {
            try {
                return self::decode($this->transport->send($method, $url, $headers, $payload,
                    $this->options['timeout_ms'] / 1000));
            } catch (CreditdException $e) {
                if (self::isInProgress($e)) {
                    $wait = $this->inProgressWait($e, $inProgress);
                } else {
                    $wait = $this->retryWait($e, $try++);
                }
                if ($wait === null) {
                    throw $e;
                }
                ($this->sleep)($wait);
            }
        }
    }

    /**
     * A 409 of a top-up whose Idempotency-Key is still calling Stripe for an earlier try
     * (src/http/api_stripe.c): the answer is coming, not refused. creditd names it by param
     * idempotency_key and its message, with code conflict, which is also the code of a key
     * used with another request.
     */
    private static function isInProgress(CreditdException $e): bool
    {
        return $e->getStatus() === 409 && $e->getErrorCode() === 'conflict' && $e->getParam() === 'idempotency_key'
            && strpos((string) $e->getErrorMessage(), 'in progress') !== false;
    }

    /**
     * Seconds to wait before sending a top-up "in progress" again, or null: give up. The waits
     * start at retry_delay_ms, doubled each time with jitter, and add up to max_retry_delay_ms
     * at most (IN_PROGRESS_RETRIES tries at most); they do not count against max_retries, but
     * max_retries 0 turns them off too.
     *
     * @param array{waits:int,waited_ms:float} $state this call's waits so far, updated
     */
    private function inProgressWait(CreditdException $e, array &$state): ?float
    {
        if ($this->options['max_retries'] === 0 || $state['waits'] >= self::IN_PROGRESS_RETRIES) {
            return null;
        }
        $after = $e->getRetryAfter();
        $waitMs = $after !== null ? $after * 1000.0 : $this->backoffMs($state['waits']);
        if ($state['waited_ms'] + $waitMs > $this->options['max_retry_delay_ms']) {
            return null;
        }
        $state['waits']++;
        $state['waited_ms'] += $waitMs;
        return $waitMs / 1000;
    }

    /** retry_delay_ms doubled for each try before, with jitter (half to all of it). */
    private function backoffMs(int $try): float
    {
        $full = $this->options['retry_delay_ms'] * (2 ** $try);
        return $full / 2 + $full / 2 * (random_int(0, 1000) / 1000);
    }

    /**
     * Seconds to wait before try $try + 1, or null: give up. Retried: the
     * classes whose RETRIED is set (Unavailable, no answer), after
     * Retry-After, else retry_delay_ms doubled each try with jitter (half
     * to all of it); a wait above max_retry_delay_ms is not made.
     */
    private function retryWait(CreditdException $e, int $try): ?float
    {
        if (!$e::RETRIED || $try >= $this->options['max_retries']) {
            return null;
        }
        $after = $e->getRetryAfter();
        $waitMs = $after !== null ? $after * 1000.0 : $this->backoffMs($try);
        return $waitMs <= $this->options['max_retry_delay_ms'] ? $waitMs / 1000 : null;
    }

    /** The JSON body: nulls dropped, clear() sent as null, integer fields as JSON integers. */
    private static function encode(array $body): string
    {
        $out = [];
        foreach ($body as $name => $value) {
            if ($value === null) {
                continue;
            }
            if ($value instanceof Clear) {
                $out[$name] = null;
                continue;
            }
            if (in_array($name, self::INT_FIELDS, true)) {
                $value = self::toInt((string) $name, $value);
            }
            $out[$name] = $value;
        }
        $json = json_encode((object) $out, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
        if ($json === false) {
            throw new \InvalidArgumentException('cannot encode the request as JSON: ' . json_last_error_msg());
        }
        return $json;
    }

    /** A PHP int as it is; a whole float (1e6) or a digit string ("1200", e.g. from a database) as an int. */
    private static function toInt(string $name, $value): int
    {
        if (is_int($value)) {
            return $value;
        }
        if (is_float($value) && is_finite($value) && floor($value) === $value && abs($value) < 9.0e15) {
            return (int) $value;
        }
        if (is_string($value) && preg_match('/^-?[0-9]{1,18}$/', $value)) {
            return (int) $value;
        }
        throw new \InvalidArgumentException($name . ' must be an integer, got ' . var_export($value, true));
    }

    /** The answer's JSON, or the typed exception of its error. */
    private static function decode(Response $r): array
    {
        $body = null;
        if ($r->body !== '') {
            $decoded = json_decode($r->body, true, 512, JSON_BIGINT_AS_STRING);
            if (is_array($decoded)) {
                $body = $decoded;
            }
        }
        if ($r->status >= 200 && $r->status < 300) {
            if ($body === null) {
                throw new CreditdException($r->status, null, $r->headers,
                    'the answer is not JSON: ' . substr($r->body, 0, 200));
            }
            return $body;
        }
        $class = self::exceptionClass($r->status, is_array($body['error'] ?? null) ? ($body['error']['code'] ?? null) : null);
        throw new $class($r->status, $body, $r->headers, $body === null ? substr($r->body, 0, 200) : null);
    }

    /**
     * The exception class of an error answer: its code's when creditd names
     * a code with that status, or the code is `unavailable` and the status
     * any 5xx; without a code ($code not a string: not creditd's JSON error,
     * a web server's page), a 429 is RateLimited and a 502, 503 or 504
     * Unavailable; else its status's (any other 4xx InvalidRequest, 5xx
     * ServerError), else CreditdException.
     *
     * @return class-string<CreditdException>
     */
    public static function exceptionClass(int $status, $code): string
    {
        // Every code of creditd's error table with its status (src/core/errors.c).
        $byCode = [
            'invalid_request' => [400, InvalidRequest::class],
            'unauthorized' => [401, Unauthorized::class],
            'insufficient_credits' => [402, InsufficientCredits::class],
            'forbidden' => [403, Forbidden::class],
            'account_suspended' => [403, AccountSuspended::class],
            'not_found' => [404, NotFound::class],
            'method_not_allowed' => [405, InvalidRequest::class],
            'request_timeout' => [408, InvalidRequest::class],
            'conflict' => [409, Conflict::class],
            'already_redeemed' => [409, AlreadyRedeemed::class],
            'promo_exhausted' => [409, PromoExhausted::class],
            'promo_expired' => [409, PromoExpired::class],
            'payload_too_large' => [413, PayloadTooLarge::class],
            'unsupported_media_type' => [415, InvalidRequest::class],
            'billing_hard_limit_reached' => [429, BillingHardLimitReached::class],
            'daily_limit_reached' => [429, DailyLimitReached::class],
            'member_cap_reached' => [429, MemberCapReached::class],
            'rate_limit_exceeded' => [429, RateLimited::class],
            'internal_error' => [500, ServerError::class],
            'upstream_error' => [502, UpstreamError::class],
            'unavailable' => [503, Unavailable::class],
            'gateway_busy' => [503, Unavailable::class],
            'stripe_not_configured' => [503, StripeNotConfigured::class],
            'provider_not_configured' => [503, ProviderNotConfigured::class],
        ];
        if (is_string($code) && isset($byCode[$code]) && $byCode[$code][0] === $status) {
            return $byCode[$code][1];
        }
        // A code that is its class with any 5xx status: a web server's error page naming it
        // (Apache's ErrorDocument answers 502 and 504 with unavailable).
        $any5xx = ['unavailable' => Unavailable::class];
        if (is_string($code) && isset($any5xx[$code]) && $status >= 500 && $status < 600) {
            return $any5xx[$code];
        }
        // Without a code, not creditd's JSON error (a web server's own page): nginx's limit_req
        // 429 is a rate limit, not a spending limit; a 502, 503 or 504 is the web server not
        // reaching creditd, as good as no answer.
        $withoutCode = [429 => RateLimited::class, 502 => Unavailable::class, 503 => Unavailable::class,
                        504 => Unavailable::class];
        if (!is_string($code) && isset($withoutCode[$status])) {
            return $withoutCode[$status];
        }
        // A code unknown (a newer creditd's) or with another status, or none and a status not above.
        $byStatus = [
            400 => InvalidRequest::class, 401 => Unauthorized::class, 402 => InsufficientCredits::class,
            403 => Forbidden::class, 404 => NotFound::class, 405 => InvalidRequest::class,
            408 => InvalidRequest::class, 409 => Conflict::class, 413 => PayloadTooLarge::class,
            415 => InvalidRequest::class, 429 => LimitReached::class, 500 => ServerError::class,
            502 => UpstreamError::class, 503 => Unavailable::class,
        ];
        if (isset($byStatus[$status])) {
            return $byStatus[$status];
        }
        if ($status >= 400 && $status < 500) {
            return InvalidRequest::class;
        }
        return $status >= 500 && $status < 600 ? ServerError::class : CreditdException::class;
    }

    private static function acct(string $id): string
    {
        return '/v1/accounts/' . rawurlencode($id);
    }
}
