<?php

declare(strict_types=1);

namespace Creditd\Exception;

/**
 * 503 unavailable: the database is unreachable or stalled; getRetryAfter() says
 * when to try again. Also 503 gateway_busy, any other 503 without a code this
 * client knows (a proxy's), code unavailable with any 5xx status (Apache's 502
 * and 504 error pages), and a 502 or 504 without creditd's JSON error (the web
 * server could not reach creditd). The client retries these itself (option
 * max_retries, with the call's one Idempotency-Key) before throwing.
 */
class Unavailable extends CreditdException
{
    public const RETRIED = true;
}
