<?php

declare(strict_types=1);

// Composer's autoloader when `composer install` ran here, else the package's own.
$vendor = __DIR__ . '/../vendor/autoload.php';
require is_file($vendor) ? $vendor : __DIR__ . '/../autoload.php';

spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'Creditd\\Tests\\', 14) === 0) {
        $file = __DIR__ . '/' . str_replace('\\', '/', substr($class, 14)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
