<?php

declare(strict_types=1);

namespace Creditd\Exception;

/**
 * 429 billing_hard_limit_reached: the account's monthly limit would be passed.
 * Formerly MonthlyLimitReached, which stays an alias of this class.
 */
class BillingHardLimitReached extends LimitReached
{
}

// The former name, defined with the class (a catch clause does not autoload).
if (!class_exists(MonthlyLimitReached::class, false)) {
    class_alias(BillingHardLimitReached::class, MonthlyLimitReached::class);
}
