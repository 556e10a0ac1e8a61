<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 409 promo_exhausted: every redemption of the promo code is used. */
class PromoExhausted extends Conflict
{
}
