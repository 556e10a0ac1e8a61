<?php

declare(strict_types=1);

namespace Creditd\Exception;

/*
 * MonthlyLimitReached is the former name of BillingHardLimitReached, an
 * alias of it (catching either catches both). Loading
 * BillingHardLimitReached defines the alias.
 * @deprecated use BillingHardLimitReached
 */
class_exists(BillingHardLimitReached::class);
