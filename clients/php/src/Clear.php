<?php

declare(strict_types=1);

namespace Creditd;

/** The type of Client::clear(): a field sent as JSON null on purpose (remove a limit, a plan, a cap). */
final class Clear
{
    /** @var Clear|null */
    private static $instance;

    private function __construct()
    {
    }

    public static function instance(): Clear
    {
        return self::$instance ?? (self::$instance = new Clear());
    }
}
