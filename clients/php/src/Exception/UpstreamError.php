<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 502 upstream_error: Stripe failed or timed out (a proxy in front of creditd may answer 502 too). */
class UpstreamError extends CreditdException
{
}
