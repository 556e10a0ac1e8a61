<?php

declare(strict_types=1);

namespace Creditd\Exception;

/*
 * BadRequest is the former name of InvalidRequest, an alias of it (catching
 * either catches both). The autoloader comes here for `new BadRequest` or
 * BadRequest::class; loading InvalidRequest defines the alias.
 * @deprecated use InvalidRequest
 */
class_exists(InvalidRequest::class);
