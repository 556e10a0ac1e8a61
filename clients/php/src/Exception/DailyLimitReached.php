<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 429 daily_limit_reached: the daily limit would be passed. */
class DailyLimitReached extends LimitReached
{
}
