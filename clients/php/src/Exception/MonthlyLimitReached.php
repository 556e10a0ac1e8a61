<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 429 billing_hard_limit_reached: the monthly limit would be passed. */
class MonthlyLimitReached extends LimitReached
{
}
