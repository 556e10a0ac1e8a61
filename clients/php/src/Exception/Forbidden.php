<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 403 forbidden: the key lacks the scope (or is bound to another account). */
class Forbidden extends CreditdException
{
}
