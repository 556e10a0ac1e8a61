<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 503 stripe_not_configured: the route needs Stripe settings creditd does not have (never retried). */
class StripeNotConfigured extends Unavailable
{
    public const RETRIED = false;
}
