<?php
/*
 * Creditd.php: for apps written against the single-file client that
 * `require` this file. It loads the package (autoload.php, src/) and keeps
 * the old exception names as aliases of the new ones. Creditd\Error is
 * gone (it shadowed PHP's \Error inside the namespace): catch
 * Creditd\Exception\CreditdException instead. New code: Composer's
 * vendor/autoload.php or autoload.php, and the Creditd\Exception\ names.
 */
require_once __DIR__ . '/autoload.php';

foreach (['BadSignature', 'InsufficientCredits', 'LimitReached', 'NotFound', 'Conflict', 'Unavailable',
          'ConnectionFailed'] as $creditdOldName) {
    if (!class_exists('Creditd\\' . $creditdOldName, false)) {
        class_alias('Creditd\\Exception\\' . $creditdOldName, 'Creditd\\' . $creditdOldName);
    }
}
unset($creditdOldName);
