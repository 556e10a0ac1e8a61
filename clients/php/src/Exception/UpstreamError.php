<?php

declare(strict_types=1);

namespace Creditd\Exception;

/**
 * 502 upstream_error: Stripe failed or timed out; also a 502 with a code this client does not know.
 * Not retried. A proxy's 502 without creditd's JSON error is an Unavailable, retried.
 */
class UpstreamError extends CreditdException
{
}
