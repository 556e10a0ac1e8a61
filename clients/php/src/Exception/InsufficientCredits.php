<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 402 insufficient_credits: not enough available credit (getAvailableMicros(), getRequiredMicros()). */
class InsufficientCredits extends CreditdException
{
}
