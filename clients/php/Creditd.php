<?php
/*
 * Creditd.php: a PHP client for creditd's HTTP API (server to server).
 *
 * Plain PHP 7.4+ / 8.x, no Composer: copy this one file and require it.
 * Uses ext-curl when it is loaded, else PHP's http stream wrapper.
 *
 *     require __DIR__ . '/Creditd.php';
 *     $guard = new Creditd\Client('https://billing.example.com/credits', $guardKey);
 *     $hold = $guard->authorize(['account' => 'alice', 'request_id' => 'chat-42',
 *                                'model' => 'gpt-4o', 'input_tokens' => 1200, 'max_output_tokens' => 800]);
 *     $guard->settle($hold['hold_id'], 1200, 350);
 *
 * Every method returns the decoded JSON answer as an array. A non-2xx answer
 * throws Creditd\Error or a subclass; a failed connection throws
 * Creditd\ConnectionFailed. Amounts are integer micros (1 EUR = 1,000,000).
 */

namespace Creditd;

/** A pushed event whose Creditd-Signature does not check out (Client::verifyEvent). */
class BadSignature extends \RuntimeException {}

/** An error answer of creditd: {"error": {"type", "code", "message", "param", ...}}. */
class Error extends \RuntimeException
{
    /** @var int|null */
    private $status;
    /** @var array|null */
    private $body;
    /** @var array<string,string> */
    private $headers;

    public function __construct(?int $status, ?array $body, array $headers = [], ?string $fallbackMessage = null)
    {
        $this->status = $status;
        $this->body = $body;
        $this->headers = $headers;
        $err = $this->errorObject();
        $message = isset($err['message']) && is_string($err['message'])
            ? $err['message'] : ($fallbackMessage ?? 'HTTP ' . $status);
        $code = $err['code'] ?? 'error';
        $param = isset($err['param']) && $err['param'] !== null ? ' (param ' . $err['param'] . ')' : '';
        parent::__construct(($status ?? 'no answer') . ' ' . $code . ': ' . $message . $param, (int) $status);
    }

    private function errorObject(): array
    {
        return (is_array($this->body) && isset($this->body['error']) && is_array($this->body['error']))
            ? $this->body['error'] : [];
    }

    /** The HTTP status, or null when no answer came. */
    public function getStatus(): ?int { return $this->status; }
    /** error.code, e.g. "insufficient_credits" (getCode() is PHP's integer code: the status). */
    public function getErrorCode(): ?string { return $this->errorObject()['code'] ?? null; }
    /** error.type, e.g. "insufficient_quota". */
    public function getErrorType(): ?string { return $this->errorObject()['type'] ?? null; }
    /** error.message, the human sentence. */
    public function getErrorMessage(): ?string { return $this->errorObject()['message'] ?? null; }
    /** error.param: the offending field, or null. */
    public function getParam(): ?string { return $this->errorObject()['param'] ?? null; }
    /** The whole decoded answer, or null when it was not JSON. */
    public function getBody(): ?array { return $this->body; }
    /** Response headers, lower-cased names. */
    public function getHeaders(): array { return $this->headers; }
    /** error.available_micros on 402/429 refusals of the guard. */
    public function getAvailableMicros(): ?int { return $this->errorObject()['available_micros'] ?? null; }
    /** error.required_micros on 402/429 refusals of the guard. */
    public function getRequiredMicros(): ?int { return $this->errorObject()['required_micros'] ?? null; }
}

/** 402 insufficient_credits: not enough available credit. */
class InsufficientCredits extends Error {}

/** 429 billing_hard_limit_reached / member_cap_reached. */
class LimitReached extends Error {}

/** 404: unknown account, hold, member or route. */
class NotFound extends Error {}

/** 409: Idempotency-Key reused with another body, hold already settled or released, ... */
class Conflict extends Error {}

/** 503: database unreachable (see getRetryAfter()) or Stripe not configured. */
class Unavailable extends Error
{
    /** Seconds from the Retry-After header, or null. */
    public function getRetryAfter(): ?int
    {
        $v = $this->getHeaders()['retry-after'] ?? null;
        return ($v !== null && ctype_digit(trim($v))) ? (int) trim($v) : null;
    }
}

/** No answer: connection refused, timeout, DNS failure. getStatus() is null.
 * For a settle the outcome is unknown: settling again with the same figures is safe. */
class ConnectionFailed extends Error
{
    public function __construct(string $reason)
    {
        parent::__construct(null, null, [], 'cannot reach creditd: ' . $reason);
    }
}

/** The type of Client::clear(): a field value sent as JSON null. */
final class Clear
{
    /** @var Clear|null */
    private static $instance;

    private function __construct() {}

    public static function instance(): Clear
    {
        return self::$instance ?? (self::$instance = new Clear());
    }
}

/** One API key against one creditd. */
class Client
{
    const VERSION = '1.0';

    /** Fields that must go out as JSON integers. */
    private const INT_FIELDS = [
        'amount_micros', 'amount_cents', 'overdraft_limit_micros', 'monthly_limit_micros', 'low_balance_micros',
        'monthly_cap_micros', 'input_tokens', 'max_output_tokens', 'output_tokens', 'cached_input_tokens',
        'ttl_seconds', 'priority',
    ];

    /** @var string */
    private $baseUrl;
    /** @var string */
    private $apiKey;
    /** @var float */
    private $timeout;
    /** @var string "curl" or "stream" */
    private $transport;

    /**
     * @param string $baseUrl where creditd is mounted, e.g. "https://billing.example.com/credits"
     * @param string $apiKey a guard, read or admin key (an admin key may call every route)
     * @param array $options timeout (seconds, default 10); transport: "curl" or "stream"
     *                       (default: curl when ext-curl is loaded)
     */
    public function __construct(string $baseUrl, string $apiKey, array $options = [])
    {
        $this->baseUrl = rtrim($baseUrl, '/');
        $this->apiKey = $apiKey;
        $this->timeout = (float) ($options['timeout'] ?? 10);
        $this->transport = $options['transport'] ?? (extension_loaded('curl') ? 'curl' : 'stream');
        if ($this->transport !== 'curl' && $this->transport !== 'stream') {
            throw new \InvalidArgumentException('transport must be "curl" or "stream"');
        }
        if ($this->transport === 'curl' && !extension_loaded('curl')) {
            throw new \InvalidArgumentException('transport "curl" needs ext-curl');
        }
    }

    /** None of the fields is sent when null; pass Client::clear() to send null (remove a limit or plan). */
    public static function clear(): Clear
    {
        return Clear::instance();
    }

    public function getTransport(): string
    {
        return $this->transport;
    }

    // ---- service ----

    /** GET /healthz (no key): ["status" => "ok"]; Unavailable while the database is down. */
    public function healthz(): array
    {
        return $this->request('GET', '/healthz', null, [], null, false);
    }

    /** GET /v1/models (read): margin_bps, currency, data[] (model prices), actions[]. */
    public function models(): array
    {
        return $this->request('GET', '/v1/models');
    }

    // ---- accounts ----

    /** POST /v1/accounts (admin). $fields: overdraft_limit_micros, monthly_limit_micros, low_balance_micros, plan. */
    public function createAccount(string $id, string $kind = 'user', array $fields = [], ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/accounts', ['id' => $id, 'kind' => $kind] + $fields, [], $idempotencyKey);
    }

    /** GET /v1/accounts/{id} (read): balance, reserved, available, limits, grants[]. */
    public function getAccount(string $id): array
    {
        return $this->request('GET', '/v1/accounts/' . self::seg($id));
    }

    /** PATCH /v1/accounts/{id} (admin): status, *_limit_micros, low_balance_micros, plan (Client::clear() removes). */
    public function patchAccount(string $id, array $fields, ?string $idempotencyKey = null): array
    {
        return $this->request('PATCH', '/v1/accounts/' . self::seg($id), $fields, [], $idempotencyKey);
    }

    /** GET /v1/accounts/{id}/transactions (read): one page, newest first: data[], next_cursor, has_more. */
    public function transactions(string $id, ?int $limit = null, ?string $cursor = null): array
    {
        return $this->request('GET', '/v1/accounts/' . self::seg($id) . '/transactions', null,
            ['limit' => $limit, 'cursor' => $cursor]);
    }

    /** POST /v1/accounts/{id}/browser_tokens (app): {token, expires_at} for the widget on the user's page. */
    public function browserToken(string $id, ?int $ttlSeconds = null): array
    {
        return $this->request('POST', '/v1/accounts/' . self::seg($id) . '/browser_tokens',
            $ttlSeconds === null ? [] : ['ttl_seconds' => $ttlSeconds]);
    }

    /** GET /v1/events (admin): the outbox, oldest first, after an event id. */
    public function events(?int $after = null, ?int $limit = null): array
    {
        return $this->request('GET', '/v1/events', null, ['after' => $after, 'limit' => $limit]);
    }

    /** Every event after $after, oldest first, page by page (a generator). */
    public function iterEvents(int $after = 0, ?int $pageSize = null): \Generator
    {
        do {
            $page = $this->events($after, $pageSize);
            $data = $page['data'] ?? [];
            foreach ($data as $event) {
                yield $event;
            }
            $after = $page['next_after'] ?? $after;
        } while ($data);
    }

    /**
     * Checks a pushed event before trusting it and returns it decoded.
     * $payload: the raw body (file_get_contents('php://input')); $header:
     * $_SERVER['HTTP_CREDITD_SIGNATURE']; $secret: [notify] secret. Throws
     * BadSignature when no v1 matches HMAC-SHA256(secret, "t.body") or t is
     * more than $tolerance seconds away. Events come at least once: skip
     * an id already handled.
     */
    public static function verifyEvent(string $payload, string $header, string $secret, int $tolerance = 300,
                                        ?int $now = null): array
    {
        $t = null;
        $sigs = [];
        foreach (explode(',', $header) as $part) {
            [$k, $v] = array_pad(explode('=', trim($part), 2), 2, '');
            if ($k === 't' && ctype_digit($v)) {
                $t = (int)$v;
            } elseif ($k === 'v1') {
                $sigs[] = $v;
            }
        }
        if ($t === null || !$sigs) {
            throw new BadSignature('no t= and v1= in the Creditd-Signature header');
        }
        if (abs(($now ?? time()) - $t) > $tolerance) {
            throw new BadSignature("the signature's timestamp is outside the tolerance");
        }
        $mac = hash_hmac('sha256', $t . '.' . $payload, $secret);
        $ok = false;
        foreach ($sigs as $sig) {
            $ok = hash_equals($mac, $sig) || $ok;
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

    /** Every journal entry, newest first, following next_cursor (a generator). */
    public function iterTransactions(string $id, ?int $pageSize = null): \Generator
    {
        $cursor = null;
        do {
            $page = $this->transactions($id, $pageSize, $cursor);
            foreach ($page['data'] ?? [] as $entry) {
                yield $entry;
            }
            $cursor = $page['next_cursor'] ?? null;
        } while ($cursor !== null && $cursor !== '');
    }

    /** GET /v1/accounts/{id}/usage (read): tokens and cost in [from, to); $groupBy: model|day|member. */
    public function usage(string $id, ?string $from = null, ?string $to = null, ?string $groupBy = null): array
    {
        return $this->request('GET', '/v1/accounts/' . self::seg($id) . '/usage', null,
            ['from' => $from, 'to' => $to, 'group_by' => $groupBy]);
    }

    /** POST /v1/accounts/{id}/grants (admin). $source: promo|adjustment|signup_bonus; $fields: expires_at, priority, description. */
    public function grant(string $id, int $amountMicros, string $source, array $fields = [], ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/accounts/' . self::seg($id) . '/grants',
            ['amount_micros' => $amountMicros, 'source' => $source] + $fields, [], $idempotencyKey);
    }

    /** POST /v1/accounts/{id}/debits (admin): a negative adjustment, at most the available balance. */
    public function debit(string $id, int $amountMicros, string $reason, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/accounts/' . self::seg($id) . '/debits',
            ['amount_micros' => $amountMicros, 'reason' => $reason], [], $idempotencyKey);
    }

    /** POST /v1/accounts/{id}/members (admin): adds or updates a member; no cap when $monthlyCapMicros is null. */
    public function addMember(string $id, string $member, ?int $monthlyCapMicros = null, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/accounts/' . self::seg($id) . '/members',
            ['member' => $member, 'monthly_cap_micros' => $monthlyCapMicros], [], $idempotencyKey);
    }

    /** DELETE /v1/accounts/{id}/members/{member} (admin); NotFound when unknown. */
    public function removeMember(string $id, string $member, ?string $idempotencyKey = null): array
    {
        return $this->request('DELETE', '/v1/accounts/' . self::seg($id) . '/members/' . self::seg($member),
            null, [], $idempotencyKey);
    }

    /** POST /v1/accounts/{id}/topup (app): a Stripe Checkout Session; send the user to checkout_url. */
    public function topup(string $id, int $amountCents, ?string $successUrl = null, ?string $cancelUrl = null,
                          ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/accounts/' . self::seg($id) . '/topup',
            ['amount_cents' => $amountCents, 'success_url' => $successUrl, 'cancel_url' => $cancelUrl],
            [], $idempotencyKey);
    }

    // ---- chat guard ----

    /**
     * POST /v1/guard/authorize (guard): holds the worst-case cost.
     * $params: account, request_id, and model + input_tokens [+ max_output_tokens
     * [+ min_output_tokens]] or action; optional member, ttl_seconds, byok, conversation_id.
     * Null values are not sent. Returns hold_id, amount_micros, available_micros, expires_at
     * and max_output_tokens: the output cap to give the model (with min_output_tokens, fewer
     * than asked when only that many were affordable, instead of a refusal).
     */
    public function authorize(array $params, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/guard/authorize', $params, [], $idempotencyKey);
    }

    /** POST /v1/guard/settle (guard): charges the tokens used ($inputTokens counts cached ones too). */
    public function settle(string $holdId, int $inputTokens, int $outputTokens, ?int $cachedInputTokens = null,
                           ?string $model = null, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/guard/settle', [
            'hold_id' => $holdId, 'input_tokens' => $inputTokens, 'output_tokens' => $outputTokens,
            'cached_input_tokens' => $cachedInputTokens, 'model' => $model,
        ], [], $idempotencyKey);
    }

    /** POST /v1/guard/release (guard): voids a hold (the AI call failed); Conflict when it was settled. */
    public function release(string $holdId, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/guard/release', ['hold_id' => $holdId], [], $idempotencyKey);
    }

    /**
     * Authorizes ($params as for authorize()), runs $call(Guard $hold) and
     * returns what it returns. Inside, settle yourself ($hold->settle()) or
     * report what the call produces ($hold->usage(), chunk(), stream(),
     * addOutputTokens()) and leave it to the guard: when $call returns or
     * throws without a settle, the hold is settled with what was produced
     * when any output was seen (a stream cut off midway is charged, not
     * refunded) and released only when nothing was. What $call threw is
     * rethrown after that. See Guard.
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
        $hold->finish(null);
        return $result;
    }

    /**
     * POST /v1/usage (guard): charges usage with no hold. $params: account, model + input_tokens +
     * output_tokens [+ cached_input_tokens] or action; optional member, request_id, conversation_id, byok.
     */
    public function recordUsage(array $params, ?string $idempotencyKey = null): array
    {
        return $this->request('POST', '/v1/usage', $params, [], $idempotencyKey);
    }

    // ---- transport ----

    /**
     * One API call: returns the decoded JSON answer or throws Error.
     * $path is below the base URL; null values in $body and $query are dropped.
     */
    public function request(string $method, string $path, ?array $body = null, array $query = [],
                            ?string $idempotencyKey = null, bool $auth = true): array
    {
        $url = $this->baseUrl . $path;
        $query = array_filter($query, function ($v) { return $v !== null; });
        if ($query) {
            $url .= '?' . http_build_query($query, '', '&', PHP_QUERY_RFC3986);
        }
        $headers = ['Accept: application/json', 'User-Agent: creditd-client-php/' . self::VERSION];
        $payload = null;
        if ($body !== null) {
            $payload = self::encode($body);
            $headers[] = 'Content-Type: application/json';
        }
        if ($auth) {
            $headers[] = 'Authorization: Bearer ' . $this->apiKey;
        }
        if ($idempotencyKey !== null) {
            $headers[] = 'Idempotency-Key: ' . $idempotencyKey;
        }
        [$status, $raw, $respHeaders] = $this->transport === 'curl'
            ? $this->sendCurl($method, $url, $headers, $payload)
            : $this->sendStream($method, $url, $headers, $payload);
        return self::decode($status, $raw, $respHeaders);
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
                $value = self::toInt($name, $value);
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

    /** @return array{0:int,1:string,2:array<string,string>} */
    private function sendCurl(string $method, string $url, array $headers, ?string $payload): array
    {
        $respHeaders = [];
        $ch = curl_init($url);
        $headers[] = 'Expect:'; // no 100-continue round trip
        curl_setopt_array($ch, [
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_CONNECTTIMEOUT_MS => (int) ($this->timeout * 1000),
            CURLOPT_TIMEOUT_MS => (int) ($this->timeout * 1000),
            CURLOPT_PROXY => '',
            CURLOPT_HEADERFUNCTION => function ($ch, $line) use (&$respHeaders) {
                $parts = explode(':', $line, 2);
                if (count($parts) === 2) {
                    $respHeaders[strtolower(trim($parts[0]))] = trim($parts[1]);
                }
                return strlen($line);
            },
        ]);
        if ($payload !== null) {
            curl_setopt($ch, CURLOPT_POSTFIELDS, $payload);
        }
        $raw = curl_exec($ch);
        if ($raw === false) {
            $reason = curl_error($ch);
            self::closeCurl($ch);
            throw new ConnectionFailed($reason);
        }
        $status = (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        self::closeCurl($ch);
        return [$status, (string) $raw, $respHeaders];
    }

    /** curl_close() is a no-op since PHP 8.0 and deprecated in 8.5. */
    private static function closeCurl($ch): void
    {
        if (PHP_VERSION_ID < 80000) {
            curl_close($ch);
        }
    }

    /** @return array{0:int,1:string,2:array<string,string>} */
    private function sendStream(string $method, string $url, array $headers, ?string $payload): array
    {
        $http = [
            'method' => $method,
            'header' => implode("\r\n", $headers),
            'timeout' => $this->timeout,
            'ignore_errors' => true,       // read the body of 4xx/5xx answers too
            'follow_location' => 0,
            'protocol_version' => 1.1,
        ];
        $http['header'] .= "\r\nConnection: close";
        if ($payload !== null) {
            $http['content'] = $payload;
        }
        $context = stream_context_create(['http' => $http]);
        $error = null;
        set_error_handler(function ($no, $msg) use (&$error) { $error = $msg; return true; });
        try {
            $raw = file_get_contents($url, false, $context);
        } finally {
            restore_error_handler();
        }
        $lines = function_exists('http_get_last_response_headers')
            ? (http_get_last_response_headers() ?? [])
            : ($http_response_header ?? []);
        if ($raw === false || !$lines) {
            throw new ConnectionFailed($error ?? 'no answer');
        }
        // With redirects off there is one status line, but be safe: use the last one.
        $status = 0;
        $respHeaders = [];
        foreach ($lines as $line) {
            if (preg_match('#^HTTP/\S+\s+(\d{3})#', $line, $m)) {
                $status = (int) $m[1];
                $respHeaders = [];
            } elseif (strpos($line, ':') !== false) {
                [$name, $value] = explode(':', $line, 2);
                $respHeaders[strtolower(trim($name))] = trim($value);
            }
        }
        return [$status, $raw, $respHeaders];
    }

    private static function decode(int $status, string $raw, array $headers): array
    {
        $body = null;
        if ($raw !== '') {
            $decoded = json_decode($raw, true, 512, JSON_BIGINT_AS_STRING);
            if (is_array($decoded)) {
                $body = $decoded;
            }
        }
        if ($status >= 200 && $status < 300) {
            if ($body === null) {
                throw new Error($status, null, $headers, 'answer is not JSON: ' . substr($raw, 0, 200));
            }
            return $body;
        }
        $fallback = $body === null ? substr($raw, 0, 200) : null;
        switch ($status) {
            case 402: throw new InsufficientCredits($status, $body, $headers, $fallback);
            case 404: throw new NotFound($status, $body, $headers, $fallback);
            case 409: throw new Conflict($status, $body, $headers, $fallback);
            case 429: throw new LimitReached($status, $body, $headers, $fallback);
            case 503: throw new Unavailable($status, $body, $headers, $fallback);
            default: throw new Error($status, $body, $headers, $fallback);
        }
    }

    /** One URL path segment, every reserved character escaped. */
    private static function seg(string $s): string
    {
        return rawurlencode($s);
    }
}

/**
 * One guarded model call (Client::guard()): the hold, what the call produced,
 * and how it ended. Tell it what the call produces as it goes:
 *
 *  - usage($input, $output, $cached): the provider's reported usage (totals
 *    so far, e.g. its final stream chunk); it wins over everything below.
 *  - addOutputTokens($n): output tokens you counted yourself.
 *  - chunk($text): one streamed piece of output. When neither of the above
 *    gave output tokens they are estimated as max(chunks,
 *    ceil(characters / CHARS_PER_TOKEN)), at most the hold's
 *    max_output_tokens. Whatever the source, never fewer output tokens
 *    than non-empty chunks: never 0 once output was seen.
 *  - stream($chunks, $text, $usage): wraps a provider's stream (a generator
 *    yielding each item after telling the guard about it).
 *
 * finish(?Throwable) ends it unless settle() was called: settled with
 * produced() when output_tokens > 0, else released. A settle that was
 * attempted and failed is never followed by a release (the tokens were
 * spent): it stays pending for a settle() retried with the same figures.
 * While the call's own exception propagates, a failed finish keeps its
 * error in getSettleError() instead of throwing.
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
    /** @var Error|null */
    private $settleError;
    /** @var bool */
    private $settleAttempted = false;
    /** @var bool */
    private $partial = false;
    /** @var array<string,int> */
    private $reported = [];
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

    /** Holds the worst-case cost; throws what authorize() throws. */
    public function authorize(?string $idempotencyKey = null): array
    {
        $this->hold = $this->client->authorize($this->params, $idempotencyKey);
        return $this->hold;
    }

    /**
     * The provider's reported usage, totals so far; null arguments leave a figure as it was.
     * A negative figure is no figure (creditd would refuse it): it is ignored.
     */
    public function usage(?int $inputTokens = null, ?int $outputTokens = null, ?int $cachedInputTokens = null): void
    {
        foreach (['input_tokens' => $inputTokens, 'output_tokens' => $outputTokens,
                  'cached_input_tokens' => $cachedInputTokens] as $name => $value) {
            if ($value !== null && $value >= 0) {
                $this->reported[$name] = $value;
            }
        }
    }

    /** Output tokens counted by the caller (added up). */
    public function addOutputTokens(int $n): void
    {
        $this->countedTokens += $n;
    }

    /**
     * One streamed piece of output; an empty one is not counted. Characters are UTF-8 code points
     * (as the Python client counts them); without mbstring, the bytes that start a character.
     */
    public function chunk(?string $text): void
    {
        if ($text === null || $text === '') {
            return;
        }
        $this->chunks++;
        $this->chars += function_exists('mb_strlen') ? mb_strlen($text, 'UTF-8')
            : strlen($text) - preg_match_all('/[\x80-\xBF]/', $text);
    }

    /**
     * Yields every item of $chunks (keys kept), telling the guard about each first.
     * $text(item): its output text (default: the item, a string); $usage(item):
     * ['input_tokens' => ..., 'output_tokens' => ..., 'cached_input_tokens' => ...] or null.
     */
    public function stream(iterable $chunks, ?callable $text = null, ?callable $usage = null): \Generator
    {
        foreach ($chunks as $key => $item) {
            $reported = $usage === null ? null : $usage($item);
            if ($reported) {
                $this->usage($reported['input_tokens'] ?? null, $reported['output_tokens'] ?? null,
                             $reported['cached_input_tokens'] ?? null);
            }
            $this->chunk($text === null ? $item : $text($item));
            yield $key => $item;
        }
    }

    /** ['input_tokens', 'output_tokens', 'cached_input_tokens']: what finish() would settle now. */
    public function produced(): array
    {
        $cap = (int) ($this->hold['max_output_tokens'] ?? 0);
        // Every non-empty chunk carried a token at least (a usage reported
        // early in a stream, as some providers do, may lag behind); the model
        // was told to stop at the cap, so neither the chunks nor an estimate
        // go past it: the settle stays within the hold.
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
        $in = $this->reported['input_tokens'] ?? (int) $this->params['input_tokens'];
        $cached = $this->reported['cached_input_tokens'] ?? null;
        if ($cached !== null && $cached > $in) { // creditd refuses more cached than input tokens
            $cached = $in;
        }
        return ['input_tokens' => $in, 'output_tokens' => $out, 'cached_input_tokens' => $cached];
    }

    /** Charges the tokens the call really used; the rest of the hold is released. */
    public function settle(int $inputTokens, int $outputTokens, ?int $cachedInputTokens = null): array
    {
        if ($this->hold === null) {
            throw new \LogicException('settle() before authorize()');
        }
        $this->settleAttempted = true;
        $this->settled = $this->client->settle($this->hold['hold_id'], $inputTokens, $outputTokens,
                                               $cachedInputTokens);
        return $this->settled;
    }

    /** Ends the hold unless settled: settles what was produced, or releases when nothing was. */
    public function finish(?\Throwable $error = null): void
    {
        if ($this->hold === null || $this->settleAttempted) {
            return;
        }
        $made = $this->produced();
        try {
            if ($made['output_tokens'] > 0) {
                $this->partial = $error !== null;
                $this->settle($made['input_tokens'], $made['output_tokens'], $made['cached_input_tokens']);
            } else {
                $this->released = $this->client->release($this->hold['hold_id']);
            }
        } catch (Error $e) {
            if ($error === null) {
                throw $e;
            }
            // The call's own exception matters more; a failed settle stays
            // pending for a retry, a failed release expires anyway.
            $this->settleError = $this->settleAttempted ? $e : null;
        }
    }

    /** The authorize answer (hold_id, amount_micros, max_output_tokens, ...), or null before it. */
    public function getHold(): ?array { return $this->hold; }
    public function getHoldId(): ?string { return $this->hold['hold_id'] ?? null; }
    /** The settle answer, or null. */
    public function getSettled(): ?array { return $this->settled; }
    /** The release answer, or null. */
    public function getReleased(): ?array { return $this->released; }
    /** A settle on finish() that failed while the call's exception propagated, or null. */
    public function getSettleError(): ?Error { return $this->settleError; }
    /** True when finish() settled a call that threw (a stream cut off midway). */
    public function isPartial(): bool { return $this->partial; }
}
