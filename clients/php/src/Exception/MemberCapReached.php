<?php

declare(strict_types=1);

namespace Creditd\Exception;

/** 429 member_cap_reached: the workspace member's monthly cap would be passed. */
class MemberCapReached extends LimitReached
{
}
