<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 413 payload_too_large: the body is over creditd's limit (an InvalidRequest). */
class PayloadTooLarge extends InvalidRequest
{
}
