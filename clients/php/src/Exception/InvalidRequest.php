<?php

declare(strict_types=1);

namespace Creditd\Exception;

/**
 * 400 invalid_request (getParam() names the field), and the other answers of
 * type invalid_request_error: 405 method_not_allowed, 408 request_timeout,
 * 415 unsupported_media_type. The request itself is wrong: sending it again
 * will not help. Formerly BadRequest, which stays an alias of this class.
 */
class InvalidRequest extends CreditdException
{
}

// The former name. Defined here, where the class is, because a catch clause
// does not autoload: `catch (BadRequest $e)` must match once this class is thrown.
if (!class_exists(BadRequest::class, false)) {
    class_alias(InvalidRequest::class, BadRequest::class);
}
