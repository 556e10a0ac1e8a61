<?php

declare(strict_types=1);

namespace Creditd\Exception;

/**
 * 429 rate_limit_exceeded (type rate_limit_error): requests or tokens per minute, top-ups per hour,
 * failed authentications; and a 429 without creditd's JSON error (a web server's own rate limit,
 * nginx's limit_req). getRetryAfter() says when. Nothing was held. Not retried.
 */
class RateLimited extends CreditdException
{
}
