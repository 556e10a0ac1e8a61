<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 403 account_suspended: the account is not active (suspended or closed). */
class AccountSuspended extends Forbidden
{
}
