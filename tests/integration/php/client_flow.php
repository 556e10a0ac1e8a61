<?php
/*
 * client_flow.php: drives clients/php/Creditd.php against the test stack for
 * test_50_clients.py and prints one JSON object of what it saw; the Python
 * test makes every assertion (including the expected costs).
 *
 * php client_flow.php TRANSPORT   (curl|stream)
 * Environment: CREDITD_URL, CREDITD_ADMIN_KEY, CREDITD_GUARD_KEY,
 * CREDITD_READ_KEY, CREDITD_APP_KEY, PREFIX (unique per run), UNAVAILABLE_URL (a server that
 * answers 503 with Retry-After), CLOSED_URL (nothing listens there).
 */
declare(strict_types=1);

error_reporting(E_ALL);
set_error_handler(function ($no, $msg, $file, $line) {
    throw new \ErrorException($msg, 0, $no, $file, $line);
});

require __DIR__ . '/../../../clients/php/Creditd.php';

use Creditd\Client;

$transport = $argv[1] ?? 'curl';
$url = getenv('CREDITD_URL');
$prefix = getenv('PREFIX');
$opts = ['transport' => $transport, 'timeout' => 20];
$admin = new Client($url, getenv('CREDITD_ADMIN_KEY'), $opts);
$guard = new Client($url, getenv('CREDITD_GUARD_KEY'), $opts);
$read = new Client($url, getenv('CREDITD_READ_KEY'), $opts);
$app = new Client($url, getenv('CREDITD_APP_KEY'), $opts);
$out = ['transport' => $guard->getTransport(), 'php' => PHP_VERSION];

/** Runs $fn, expecting it to throw; returns what the exception says. */
function caught(callable $fn): array
{
    try {
        $fn();
    } catch (\Creditd\Error $e) {
        $info = [
            'class' => get_class($e), 'status' => $e->getStatus(), 'code' => $e->getErrorCode(),
            'type' => $e->getErrorType(), 'param' => $e->getParam(), 'body' => $e->getBody(),
            'available_micros' => $e->getAvailableMicros(), 'required_micros' => $e->getRequiredMicros(),
            'is_creditd_error' => true,
        ];
        if ($e instanceof \Creditd\Unavailable) {
            $info['retry_after'] = $e->getRetryAfter();
        }
        return $info;
    }
    return ['class' => null];
}

// Accounts: create, create again (same body), get, id needing URL encoding.
$acct = $prefix . '-main';
$out['created'] = $admin->createAccount($acct, 'user', ['monthly_limit_micros' => 900000000]);
$out['created_again'] = $admin->createAccount($acct, 'user', ['monthly_limit_micros' => 900000000]);
$odd = $prefix . ' a/b?c#d%é';
$out['odd_created'] = $admin->createAccount($odd);
$out['odd_get'] = $read->getAccount($odd);
$out['patched'] = $admin->patchAccount($acct, ['monthly_limit_micros' => Client::clear(), 'plan' => 'pro']);
$out['account_before'] = $read->getAccount($acct);
$out['models'] = $read->models();
$out['healthz'] = $read->healthz();

// Guard: authorize (integral float and digit string are sent as integers), settle with cached tokens.
$out['authorize'] = $guard->authorize([
    'account' => $acct, 'request_id' => $prefix . '-r1', 'model' => 'gpt-4o',
    'input_tokens' => 1200.0, 'max_output_tokens' => '800', 'member' => null,
]);
$out['settle'] = $guard->settle($out['authorize']['hold_id'], 1200, 350, 200);
$out['settle_again'] = $guard->settle($out['authorize']['hold_id'], 1200, 350, 200);
$out['account_after_settle'] = $read->getAccount($acct);

// Release, then settling the released hold is a Conflict.
$h2 = $guard->authorize(['account' => $acct, 'request_id' => $prefix . '-r2', 'model' => 'gpt-4o',
                         'input_tokens' => 10, 'max_output_tokens' => 10]);
$out['release'] = $guard->release($h2['hold_id']);
$out['settle_released'] = caught(function () use ($guard, $h2) { $guard->settle($h2['hold_id'], 10, 10); });
$out['account_after_release'] = $read->getAccount($acct);

// Refusals and not found.
$poor = $prefix . '-poor';
$admin->createAccount($poor);
$bal = $read->getAccount($poor)['balance_micros'];
$admin->debit($poor, $bal - 1000, 'test set-up');
$out['insufficient'] = caught(function () use ($guard, $poor, $prefix) {
    $guard->authorize(['account' => $poor, 'request_id' => $prefix . '-r3', 'model' => 'gpt-4o',
                       'input_tokens' => 100000, 'max_output_tokens' => 1000]);
});
// Shrink instead of refusing: min_output_tokens passed through as is.
$out['shrunk'] = $guard->authorize(['account' => $poor, 'request_id' => $prefix . '-r3s', 'model' => 'gpt-4o',
                                    'input_tokens' => 100, 'max_output_tokens' => 1000, 'min_output_tokens' => 1]);
$capped = $prefix . '-capped';
$admin->createAccount($capped, 'user', ['monthly_limit_micros' => 1000]);
$out['limit'] = caught(function () use ($guard, $capped, $prefix) {
    $guard->authorize(['account' => $capped, 'request_id' => $prefix . '-r4', 'model' => 'gpt-4o',
                       'input_tokens' => 100000, 'max_output_tokens' => 1000]);
});
$out['not_found'] = caught(function () use ($read, $prefix) { $read->getAccount($prefix . '-nobody'); });
$out['conflict_create'] = caught(function () use ($admin, $acct) { $admin->createAccount($acct, 'workspace'); });
$out['bad_request'] = caught(function () use ($guard, $acct, $prefix) {
    $guard->authorize(['account' => $acct, 'request_id' => $prefix . '-r5', 'model' => 'no-such-model',
                       'input_tokens' => 1]);
});
$out['wrong_scope'] = caught(function () use ($read, $acct) { $read->grant($acct, 1, 'promo'); });
$out['float_refused'] = null;
try {
    // A fractional float never leaves the client.
    $guard->authorize(['account' => $acct, 'request_id' => $prefix . '-r6', 'model' => 'gpt-4o',
                       'input_tokens' => 1.5]);
} catch (\InvalidArgumentException $e) {
    $out['float_refused'] = $e->getMessage();
}

// Idempotency: the same key and body replay the first answer; another body is a Conflict.
$key = $prefix . '-idem';
$out['grant_first'] = $admin->grant($acct, 1234, 'promo', ['description' => 'idem test'], $key);
$out['grant_replay'] = $admin->grant($acct, 1234, 'promo', ['description' => 'idem test'], $key);
$out['grant_other_body'] = caught(function () use ($admin, $acct, $key) {
    $admin->grant($acct, 999, 'promo', ['description' => 'idem test'], $key);
});

// Pagination: every entry once, newest first.
$ids = [];
foreach ($read->iterTransactions($acct, 2) as $entry) {
    $ids[] = $entry['id'];
}
$out['iter_ids'] = $ids;
$out['all_page'] = $read->transactions($acct, 200);

// Members, direct usage, the usage report, a top-up.
$ws = $prefix . '-ws';
$admin->createAccount($ws, 'workspace');
$out['member_added'] = $admin->addMember($ws, 'bob/2', 50000);
$out['member_removed'] = $admin->removeMember($ws, 'bob/2');
$out['member_removed_again'] = caught(function () use ($admin, $ws) { $admin->removeMember($ws, 'bob/2'); });
$out['record_usage'] = $guard->recordUsage(['account' => $acct, 'model' => 'gpt-3.5-turbo', 'input_tokens' => 300,
                                            'output_tokens' => 120, 'request_id' => $prefix . '-batch']);
$out['usage'] = $read->usage($acct, null, null, 'model');
$out['topup_read_key'] = caught(function () use ($read, $acct) { $read->topup($acct, 1500); });
$out['topup'] = $app->topup($acct, 1500, 'https://app.example.com/paid', null, $prefix . '-topup');

// The guard helper: a stream cut off midway is settled with what it produced.
class ProviderCut extends \RuntimeException {}

function cutStream(array $pieces): \Generator
{
    foreach ($pieces as $piece) {
        yield $piece;
    }
    throw new ProviderCut('stream cut off');
}

/** Runs $fn inside $client->guard($params, ...); returns what the guard saw and what escaped. */
function guarded(Client $client, array $params, callable $fn): array
{
    $seen = null;
    $info = ['thrown' => null, 'result' => null];
    try {
        $info['result'] = $client->guard($params, function (\Creditd\Guard $hold) use ($fn, &$seen) {
            $seen = $hold;
            return $fn($hold);
        });
    } catch (\Throwable $e) {
        $info['thrown'] = get_class($e);
    }
    return $info + ['hold_id' => $seen->getHoldId(), 'produced' => $seen->produced(),
                    'settled' => $seen->getSettled(), 'released' => $seen->getReleased(),
                    'partial' => $seen->isPartial()];
}

$gacct = $prefix . '-guard';
$admin->createAccount($gacct);
$gparams = function (string $rid) use ($gacct, $prefix) {
    return ['account' => $gacct, 'request_id' => $prefix . $rid, 'model' => 'gpt-4o',
            'input_tokens' => 1000, 'max_output_tokens' => 500];
};
$out['guard_balance_before'] = $read->getAccount($gacct)['balance_micros'];
$out['guard_cut_text'] = guarded($guard, $gparams('-g1'), function ($hold) {
    $got = '';
    foreach ($hold->stream(cutStream(['Hello', ', wor', 'ld and the', ' rest'])) as $piece) {
        $got .= $piece;
    }
    return $got;
});
$out['guard_cut_counted'] = guarded($guard, $gparams('-g2'), function ($hold) {
    $hold->usage(1040);
    foreach (cutStream([['a', 7], ['b', 5]]) as $piece) {
        $hold->addOutputTokens($piece[1]);
    }
});
$out['guard_cut_early_usage'] = guarded($guard, $gparams('-g5'), function ($hold) {
    $hold->usage(null, 1);
    foreach ($hold->stream(cutStream(['x', 'y', 'z'])) as $piece) {
    }
});
$out['guard_cut_empty'] = guarded($guard, $gparams('-g3'), function ($hold) {
    foreach ($hold->stream(cutStream(['', ''])) as $piece) {
    }
});
$out['guard_complete'] = guarded($guard, $gparams('-g4'), function ($hold) {
    $chunks = [['text' => 'Hi'], ['text' => ' there'],
               ['text' => '', 'usage' => ['input_tokens' => 1010, 'output_tokens' => 42, 'cached_input_tokens' => 10]]];
    $got = '';
    foreach ($hold->stream($chunks, function ($c) { return $c['text']; },
                           function ($c) { return $c['usage'] ?? null; }) as $c) {
        $got .= $c['text'];
    }
    return $got;
});
$out['guard_balance_after'] = $read->getAccount($gacct);

// Estimates stop at max_output_tokens (3 here), even with more pieces than
// that or a usage reported early; a usage the provider reported is settled
// as reported; cached input above the input is clamped; negative figures
// are dropped; characters are code points.
$cacct = $prefix . '-gcap';
$admin->createAccount($cacct);
$cparams = function (string $rid) use ($cacct, $prefix) {
    return ['account' => $cacct, 'request_id' => $prefix . $rid, 'model' => 'gpt-4o',
            'input_tokens' => 1000, 'max_output_tokens' => 3];
};
$out['guard_cap_chunks'] = guarded($guard, $cparams('-c1'), function ($hold) {
    foreach ($hold->stream(cutStream(['a', 'b', 'c', 'd', 'e'])) as $piece) {
    }
});
$out['guard_cap_early_usage'] = guarded($guard, $cparams('-c2'), function ($hold) {
    $hold->usage(null, 1);
    foreach ($hold->stream(cutStream(['a', 'b', 'c', 'd', 'e'])) as $piece) {
    }
});
$out['guard_cap_reported'] = guarded($guard, $cparams('-c3'), function ($hold) {
    foreach ($hold->stream(['a', 'b']) as $piece) {
    }
    $hold->usage(null, 7);
});
$out['guard_cached_above_input'] = guarded($guard, $gparams('-c4'), function ($hold) {
    $hold->chunk('Hello');
    $hold->usage(100, 5, 200);
});
$out['guard_negative_usage'] = guarded($guard, $gparams('-c5'), function ($hold) {
    foreach ($hold->stream(['ab', 'cd']) as $piece) {
    }
    $hold->usage(-5, -1, -1);
});
$points = new \Creditd\Guard($guard, $gparams('-c6'));
$points->chunk(str_repeat("\u{e9}", 8));
$out['guard_code_points'] = $points->produced();

// Transport failures.
$down = new Client(getenv('UNAVAILABLE_URL'), 'k', $opts);
$out['unavailable'] = caught(function () use ($down) { $down->healthz(); });
$closed = new Client(getenv('CLOSED_URL'), 'k', $opts + ['timeout' => 3]);
$out['closed'] = caught(function () use ($closed) { $closed->models(); });

echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION), "\n";
