<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 429 of a spending limit (type insufficient_quota): the base of BillingHardLimitReached, DailyLimitReached and MemberCapReached, with getAvailableMicros() and getRequiredMicros(). */
class LimitReached extends CreditdException
{
}
