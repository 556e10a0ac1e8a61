<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 409 already_redeemed: this account redeemed the promo code before. */
class AlreadyRedeemed extends Conflict
{
}
