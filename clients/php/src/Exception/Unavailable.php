<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 503 unavailable: the database is unreachable or stalled; getRetryAfter() says when to try again. The client retries these itself (option retries) before throwing. */
class Unavailable extends CreditdException
{
}
