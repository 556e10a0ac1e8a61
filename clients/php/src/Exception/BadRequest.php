<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 400 invalid_request (param names the field), and 405, 408, 413, 415: the request itself is wrong; sending it again will not help. */
class BadRequest extends CreditdException
{
}
