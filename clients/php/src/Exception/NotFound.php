<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 404 not_found: unknown account, hold, member, promo code or route (or an account a bound key cannot reach). */
class NotFound extends CreditdException
{
}
