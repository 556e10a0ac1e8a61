<?php

declare(strict_types=1);

namespace Creditd\Exception;

/**
 * No answer: connection refused, timeout, DNS failure; getStatus() is null.
 * The client retries these itself (option max_retries) with the same
 * Idempotency-Key; when it gives up, the outcome of a write is unknown:
 * sending it again with the same key (or settling again with the same
 * figures) is safe.
 */
class ConnectionFailed extends CreditdException
{
    public const RETRIED = true;

    public function __construct(string $reason, ?\Throwable $previous = null)
    {
        parent::__construct(null, null, [], 'cannot reach creditd: ' . $reason, $previous);
    }
}
