<?php

declare(strict_types=1);

namespace Creditd\Exception;

/**
 * 503 unavailable: the database is unreachable or stalled; getRetryAfter() says
 * when to try again. Also 503 gateway_busy, and any other 503 without a code
 * this client knows (a proxy's). The client retries these itself (option
 * max_retries) before throwing.
 */
class Unavailable extends CreditdException
{
    public const RETRIED = true;
}
