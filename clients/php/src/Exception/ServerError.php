<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 500 internal_error, or another 5xx this client does not know. */
class ServerError extends CreditdException
{
}
