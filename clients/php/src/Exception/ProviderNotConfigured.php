<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 503 provider_not_configured: the gateway has no key for the provider (never retried). */
class ProviderNotConfigured extends Unavailable
{
    public const RETRIED = false;
}
