<?php

declare(strict_types=1);

namespace Creditd\Exception;

/**
 * The base of everything this package throws about creditd: an error answer
 * {"error": {"type", "code", "message", "param", ...}}, no answer at all
 * (ConnectionFailed, status null) or a pushed event that does not check out
 * (BadSignature). Catch this class to catch them all.
 *
 * getCode() is PHP's integer code: the HTTP status (0 without an answer);
 * getErrorCode() is creditd's string code, e.g. "insufficient_credits".
 */
class CreditdException extends \RuntimeException
{
    /**
     * Whether the client sends the request again after an error of this class
     * (up to max_retries): the same in the Python and Node clients (clients/vocabulary.json).
     */
    public const RETRIED = false;

    /** @var int|null */
    private $status;
    /** @var array|null */
    private $body;
    /** @var array<string,string> */
    private $headers;

    /**
     * @param int|null $status the HTTP status, null when no answer came
     * @param array|null $body the decoded answer, null when it was not JSON
     * @param array<string,string> $headers response headers, lower-cased names
     */
    public function __construct(?int $status = null, ?array $body = null, array $headers = [],
                                ?string $fallbackMessage = null, ?\Throwable $previous = null)
    {
        $this->status = $status;
        $this->body = $body;
        $this->headers = $headers;
        $err = $this->errorObject();
        $message = isset($err['message']) && is_string($err['message'])
            ? $err['message'] : ($fallbackMessage ?? 'HTTP ' . $status);
        if ($status === null) {
            $summary = $message;
        } else {
            $param = isset($err['param']) && is_string($err['param']) ? ' (param ' . $err['param'] . ')' : '';
            $summary = $status . ' ' . ($err['code'] ?? 'error') . ': ' . $message . $param;
        }
        parent::__construct($summary, (int) $status, $previous);
    }

    private function errorObject(): array
    {
        return (is_array($this->body) && isset($this->body['error']) && is_array($this->body['error']))
            ? $this->body['error'] : [];
    }

    /** The HTTP status, or null when no answer came. */
    public function getStatus(): ?int
    {
        return $this->status;
    }

    /** error.code, e.g. "insufficient_credits". */
    public function getErrorCode(): ?string
    {
        $code = $this->errorObject()['code'] ?? null;
        return is_string($code) ? $code : null;
    }

    /** error.type, e.g. "insufficient_quota". */
    public function getErrorType(): ?string
    {
        $type = $this->errorObject()['type'] ?? null;
        return is_string($type) ? $type : null;
    }

    /** error.message, the human sentence. */
    public function getErrorMessage(): ?string
    {
        $message = $this->errorObject()['message'] ?? null;
        return is_string($message) ? $message : null;
    }

    /** error.param: the offending field (or header), or null. */
    public function getParam(): ?string
    {
        $param = $this->errorObject()['param'] ?? null;
        return is_string($param) ? $param : null;
    }

    /** The whole decoded answer, or null when there was none or it was not JSON. */
    public function getBody(): ?array
    {
        return $this->body;
    }

    /** Response headers, lower-cased names. */
    public function getHeaders(): array
    {
        return $this->headers;
    }

    /** error.available_micros on the guard's refusals (402, 429, 403), else null. */
    public function getAvailableMicros(): ?int
    {
        $v = $this->errorObject()['available_micros'] ?? null;
        return is_int($v) ? $v : null;
    }

    /** error.required_micros on the guard's refusals, else null. */
    public function getRequiredMicros(): ?int
    {
        $v = $this->errorObject()['required_micros'] ?? null;
        return is_int($v) ? $v : null;
    }

    /**
     * Seconds to wait before trying again, the same in the three clients: the
     * Retry-After header when it is delta-seconds (digits only: creditd sends
     * no HTTP date, and a proxy's is not read), else error.retry_after_seconds
     * when it is a non-negative integer; null when neither came.
     */
    public function getRetryAfter(): ?int
    {
        $v = $this->headers['retry-after'] ?? null;
        if ($v !== null) {
            $v = trim($v, " \t");
            if ($v !== '' && strlen($v) <= 18 && ctype_digit($v)) {
                return (int) $v;
            }
        }
        $s = $this->errorObject()['retry_after_seconds'] ?? null;
        return is_int($s) && $s >= 0 ? $s : null;
    }
}
