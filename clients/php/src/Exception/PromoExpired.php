<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 409 promo_expired: the promo code is past its expires_at. */
class PromoExpired extends Conflict
{
}
