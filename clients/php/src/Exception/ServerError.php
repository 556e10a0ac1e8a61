<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 500 internal_error (creditd logged its cause; nothing changed), or another 5xx this client has no class for. */
class ServerError extends CreditdException
{
}
