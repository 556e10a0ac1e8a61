<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 401 unauthorized: no or wrong API key. */
class Unauthorized extends CreditdException
{
}
