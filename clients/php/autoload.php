<?php
/*
 * For apps without Composer: copy this directory (autoload.php and src/)
 * into the app and require this file. With Composer, use vendor/autoload.php.
 */
spl_autoload_register(static function (string $class): void {
    if (strncmp($class, 'Creditd\\', 8) !== 0) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 8)) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
