<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 429 of a spending limit (type insufficient_quota): the base of MonthlyLimitReached, DailyLimitReached and MemberCapReached, with getAvailableMicros() and getRequiredMicros(). */
class LimitReached extends CreditdException
{
}
