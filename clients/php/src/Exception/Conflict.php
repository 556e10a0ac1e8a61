<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 409 conflict: an Idempotency-Key reused with another body, a hold already settled or released, an id taken. */
class Conflict extends CreditdException
{
}
