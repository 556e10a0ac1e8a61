<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** A pushed event whose Creditd-Signature does not check out (Creditd\Signature::verify()). */
class BadSignature extends CreditdException
{
    public function __construct(string $reason)
    {
        parent::__construct(null, null, [], $reason);
    }
}
