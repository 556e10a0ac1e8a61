<?php

declare(strict_types=1);

namespace Creditd\Provider;

/** Turns what an SDK hands out (arrays, objects with toArray(), plain objects, JSON strings) into arrays. */
final class Shape
{
    /** @param mixed $item */
    public static function toArray($item): ?array
    {
        if (is_array($item)) {
            return $item;
        }
        if (is_object($item)) {
            if (method_exists($item, 'toArray')) {
                $a = $item->toArray();
                return is_array($a) ? $a : null;
            }
            $a = json_decode((string) json_encode($item), true);
            return is_array($a) ? $a : null;
        }
        if (is_string($item) && $item !== '' && ($item[0] === '{' || $item[0] === '[')) {
            $a = json_decode($item, true);
            return is_array($a) ? $a : null;
        }
        return null;
    }

    /** A non-negative integer at $a[k1][k2]..., else null. */
    public static function int(?array $a, string ...$path): ?int
    {
        $v = $a;
        foreach ($path as $k) {
            if (!is_array($v) || !array_key_exists($k, $v)) {
                return null;
            }
            $v = $v[$k];
        }
        return is_int($v) && $v >= 0 ? $v : null;
    }
}
