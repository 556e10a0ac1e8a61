<?php

declare(strict_types=1);

namespace Creditd\Exception;

/**
 * No answer: connection refused, timeout, DNS failure; getStatus() is null.
 * The client retries these itself (option retries) with the same
 * Idempotency-Key; when it gives up, the outcome of a write is unknown:
 * sending it again with the same key (or settling again with the same
 * figures) is safe.
 */
class ConnectionFailed extends CreditdException
{
    public function __construct(string $reason, ?\Throwable $previous = null)
    {
        parent::__construct(null, null, [], 'cannot reach creditd: ' . $reason, $previous);
    }
}
