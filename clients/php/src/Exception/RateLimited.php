<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 429 rate_limit_exceeded (type rate_limit_error): requests or tokens per minute, top-ups per hour, failed authentications; getRetryAfter() says when. Nothing was held. */
class RateLimited extends CreditdException
{
}
