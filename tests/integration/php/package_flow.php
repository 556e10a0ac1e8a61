<?php
/*
 * package_flow.php: drives the creditd/client package (clients/php) against
 * the test stack for test_51_php_client.py and prints one JSON object of
 * what it saw; the Python test makes every assertion (including the
 * expected costs).
 *
 * php package_flow.php TRANSPORT   (curl|stream)
 * Environment: CREDITD_URL, CREDITD_ADMIN_KEY, CREDITD_GUARD_KEY,
 * CREDITD_READ_KEY, CREDITD_APP_KEY, PREFIX (unique per run), UNAVAILABLE_URL (a server that
 * answers 503 with Retry-After), CLOSED_URL (nothing listens there), FLAKY_URL (a proxy to
 * creditd that loses the first answer of each write: it forwards it, then answers 503),
 * PROVIDER_URL (a fake model provider whose streams break off), EVENT_BODY,
 * EVENT_HEADER, EVENT_SECRET (a pushed event signed by the test).
 */
declare(strict_types=1);

error_reporting(E_ALL);
set_error_handler(function ($no, $msg, $file, $line) {
    throw new \ErrorException($msg, 0, $no, $file, $line);
});

require getenv('CREDITD_PHP_AUTOLOAD') ?: __DIR__ . '/../../../clients/php/autoload.php';

use Creditd\Client;
use Creditd\Exception\CreditdException;

$transport = $argv[1] ?? 'curl';
$url = getenv('CREDITD_URL');
$prefix = getenv('PREFIX');
$opts = ['transport' => $transport, 'timeout_ms' => 20000, 'max_retries' => 0];
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
    } catch (CreditdException $e) {
        $info = [
            'class' => get_class($e), 'status' => $e->getStatus(), 'code' => $e->getErrorCode(),
            'type' => $e->getErrorType(), 'param' => $e->getParam(), 'body' => $e->getBody(),
            'available_micros' => $e->getAvailableMicros(), 'required_micros' => $e->getRequiredMicros(),
            'is_creditd_error' => true,
        ];
        $info['retry_after'] = $e->getRetryAfter();
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
$out['emailed'] = $admin->patchAccount($acct, ['email' => 'ops@example.com']);
$out['unemailed'] = $admin->patchAccount($acct, ['email' => Client::clear()]);
$out['email_created'] = $admin->createAccount($prefix . '-mail', 'user', ['email' => 'ann@example.org']);
$out['bad_email'] = caught(function () use ($admin, $acct) { $admin->patchAccount($acct, ['email' => 'ann@']); });
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
$out['usage'] = $read->usageReport($acct, null, null, 'model');
$out['topup_read_key'] = caught(function () use ($read, $acct) { $read->topup($acct, 1500); });
$out['topup'] = $app->topup($acct, 1500, ['success_url' => 'https://app.example.com/paid', 'save_card' => true],
                            $prefix . '-topup');

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
$closed = new Client(getenv('CLOSED_URL'), 'k', ['timeout_ms' => 3000] + $opts);
$out['closed'] = caught(function () use ($closed) { $closed->models(); });

// ---- what the package adds ----
$E = function (callable $fn): array {
    $info = caught($fn);
    return $info + ['short' => isset($info['class']) ? substr(strrchr('\\' . $info['class'], '\\'), 1) : null];
};

// Typed refusals: a daily limit, a suspended account, a rate limit.
$daily = $prefix . '-daily';
$admin->createAccount($daily);
$admin->patchAccount($daily, ['daily_limit_micros' => 1000]);
$out['daily'] = $E(function () use ($guard, $daily, $prefix) {
    $guard->authorize(['account' => $daily, 'request_id' => $prefix . '-d1', 'model' => 'gpt-4o',
                       'input_tokens' => 100000, 'max_output_tokens' => 1000]);
});
$susp = $prefix . '-susp';
$admin->createAccount($susp);
$admin->patchAccount($susp, ['status' => 'suspended']);
$out['suspended'] = $E(function () use ($guard, $susp, $prefix) {
    $guard->authorize(['account' => $susp, 'request_id' => $prefix . '-s1', 'model' => 'gpt-4o', 'input_tokens' => 1]);
});
$rl = $prefix . '-rl';
$admin->createAccount($rl, 'user', ['requests_per_minute' => 1]);
$guard->authorize(['account' => $rl, 'request_id' => $prefix . '-rl1', 'model' => 'gpt-4o', 'input_tokens' => 1,
                   'max_output_tokens' => 1]);
$out['rate_limited'] = $E(function () use ($guard, $rl, $prefix) {
    $guard->authorize(['account' => $rl, 'request_id' => $prefix . '-rl2', 'model' => 'gpt-4o', 'input_tokens' => 1,
                       'max_output_tokens' => 1]);
});

// Usage with no hold: refused for want of credit, then forced.
$upar = ['account' => $poor, 'model' => 'gpt-4o', 'input_tokens' => 100000, 'output_tokens' => 1000,
         'request_id' => $prefix . '-u1'];
$out['usage_refused'] = $E(function () use ($guard, $upar) { $guard->recordUsage($upar); });
$out['usage_forced'] = $guard->recordUsage($upar + ['force' => true]);
$out['poor_after_force'] = $read->getAccount($poor);

// Plans, promo codes, browser tokens.
$out['plans'] = $read->plans();
$code = strtoupper(substr(preg_replace('/[^A-Za-z0-9]/', '', $prefix), -20)) . 'P';
$admin->createPromoCode($code, 2500000, ['max_redemptions' => 5]);
$out['redeemed'] = $app->redeem($acct, strtolower($code));
$out['redeemed_again'] = $E(function () use ($app, $acct, $code) { $app->redeem($acct, $code); });
$out['redeem_unknown'] = $E(function () use ($app, $acct, $prefix) { $app->redeem($acct, 'NOPE' . substr(md5($prefix), 0, 10)); });
$out['browser_token'] = $app->browserToken($acct, 120);
// Referrals: the code, an account created with it, an unknown code refused.
$out['referral_code'] = $app->referralCode($acct);
$out['referral_code_again'] = $app->referralCode($acct);
$out['referred'] = $admin->createAccount($prefix . '-referred', 'user', ['referral_code' => $out['referral_code']['code']]);
$out['referral_unknown'] = $E(function () use ($admin, $prefix) {
    $admin->createAccount($prefix . '-nobody', 'user', ['referral_code' => 'zzzzzzzzzz']);
});

// Threshold alerts: set whole, a bad one refused by its field, read back after a debit crossed one.
$alertAcct = $prefix . '-alerts';
$admin->createAccount($alertAcct);
$alertStart = $read->getAccount($alertAcct)['balance_micros'];
$out['alert_threshold'] = $alertStart - 1000;
$out['alerts_set'] = $app->setAlerts($alertAcct, [['kind' => 'balance_below', 'micros' => $alertStart - 1000],
                                                  ['kind' => 'daily_spend_pct', 'pct' => 50]]);
$out['alerts_bad'] = $E(function () use ($app, $alertAcct) {
    $app->setAlerts($alertAcct, [['kind' => 'daily_spend_pct', 'pct' => 0]]);
});
$admin->debit($alertAcct, 2000, 'test');
$out['alerts_after'] = $read->getAlerts($alertAcct);

// Events: the outbox walked with `after`, page by page, against one big page.
$first = $admin->events(0, 1);
// The newest id: pages of 200 from the start, to the last one.
$last = 0;
do {
    $page = $admin->events($last, 200);
    $last = (int) ($page['next_after'] ?? $last);
} while (count($page['data']) === 200);
$start = max(0, $last - 7);
$walked = [];
foreach ($admin->iterEvents($start, 2) as $ev) {
    $walked[] = $ev['id'];
}
$out['events_walked'] = $walked;
$out['events_page'] = array_column($admin->events($start, 200)['data'], 'id');
$out['events_first'] = $first;

// A pushed event signed by the test (Python's hmac) checks out; tampered, it does not.
$out['event_verified'] = Client::verifyEvent(getenv('EVENT_BODY'), getenv('EVENT_HEADER'), getenv('EVENT_SECRET'));
$out['event_tampered'] = $E(function () {
    \Creditd\Signature::verify(getenv('EVENT_BODY') . ' ', getenv('EVENT_HEADER'), getenv('EVENT_SECRET'));
});

// Retries: through a proxy that loses the first answer of each write (forwarded, then 503).
$flakyOpts = ['transport' => $transport, 'timeout_ms' => 20000, 'max_retries' => 2, 'max_retry_delay_ms' => 2000];
$fguard = new Client(getenv('FLAKY_URL'), getenv('CREDITD_GUARD_KEY'), $flakyOpts);
$fadmin = new Client(getenv('FLAKY_URL'), getenv('CREDITD_ADMIN_KEY'), $flakyOpts);
$facct = $prefix . '-flaky';
$out['flaky_created'] = $fadmin->createAccount($facct);
$out['flaky_grant'] = $fadmin->grant($facct, 777, 'promo', ['description' => 'retried']);
$fh = $fguard->authorize(['account' => $facct, 'request_id' => $prefix . '-f1', 'model' => 'gpt-4o',
                          'input_tokens' => 500, 'max_output_tokens' => 100]);
$out['flaky_hold'] = $fh;
$out['flaky_settle'] = $fguard->settle($fh['hold_id'], 500, 40);
$out['flaky_account'] = $read->getAccount($facct);
$out['flaky_journal'] = $read->transactions($facct, 200)['data'];
$noRetry = new Client(getenv('FLAKY_URL'), getenv('CREDITD_ADMIN_KEY'), ['max_retries' => 0] + $flakyOpts);
$out['flaky_no_retry'] = $E(function () use ($noRetry, $facct, $prefix) {
    $noRetry->grant($facct, 5, 'promo', [], $prefix . '-no-retry'); // its first answer lost, not retried
});

// A real HTTP stream from a fake provider that breaks off mid-way, read with this transport.

/** The raw body of $url piece by piece; ProviderCut when the connection breaks or ends early. */
function providerBytes(string $url, string $transport): \Generator
{
    if ($transport === 'curl') {
        $buf = '';
        $ch = curl_init($url);
        curl_setopt_array($ch, [CURLOPT_PROXY => '', CURLOPT_TIMEOUT => 20,
            CURLOPT_WRITEFUNCTION => function ($ch, $data) use (&$buf) { $buf .= $data; return strlen($data); }]);
        $mh = curl_multi_init();
        curl_multi_add_handle($mh, $ch);
        do {
            $status = curl_multi_exec($mh, $running);
            if ($running) {
                curl_multi_select($mh, 1.0);
            }
            if ($buf !== '') {
                $piece = $buf;
                $buf = '';
                yield $piece;
            }
        } while ($running && $status === CURLM_OK);
        $info = curl_multi_info_read($mh);
        $err = $info ? $info['result'] : 0;
        curl_multi_remove_handle($mh, $ch);
        if ($err !== CURLE_OK) {
            throw new ProviderCut('curl: ' . curl_strerror($err));
        }
        return;
    }
    $fp = @fopen($url, 'r', false, stream_context_create(['http' => ['timeout' => 20]]));
    if ($fp === false) {
        throw new ProviderCut('cannot open the stream');
    }
    while (!feof($fp)) {
        $piece = fread($fp, 64);
        if ($piece === false) {
            throw new ProviderCut('read failed');
        }
        if ($piece !== '') {
            yield $piece;
        }
    }
    fclose($fp);
}

/** Provider events; ProviderCut when the stream ends without its last event. */
function providerEvents(string $url, string $transport, string $last): \Generator
{
    $seenLast = false;
    foreach (\Creditd\Provider\Sse::decode(providerBytes($url, $transport)) as $event) {
        $seenLast = $seenLast || (($event['type'] ?? '') === $last) || ($last === 'usage' && !empty($event['usage']));
        yield $event;
    }
    if (!$seenLast) {
        throw new ProviderCut('the stream ended before ' . $last);
    }
}

$pacct = $prefix . '-prov';
$admin->createAccount($pacct);
// The Anthropic streams write to the prompt cache: a model whose cache writes cost more than its input.
$pparams = function (string $rid, string $model) use ($pacct, $prefix) {
    return ['account' => $pacct, 'request_id' => $prefix . $rid, 'model' => $model,
            'input_tokens' => 1000, 'max_output_tokens' => 500];
};
$provider = getenv('PROVIDER_URL');
$out['prov_balance_before'] = $read->getAccount($pacct)['balance_micros'];
foreach (['openai_cut' => ['openai', 'cut', 'usage'], 'openai_full' => ['openai', 'full', 'usage'],
          'anthropic_cut' => ['anthropic', 'cut', 'message_stop'], 'anthropic_full' => ['anthropic', 'full', 'message_stop'],
          'openai_nothing' => ['openai', 'nothing', 'usage']] as $name => [$kind, $how, $last]) {
    $model = $kind === 'openai' ? 'gpt-4o' : 'claude-sonnet-4-20250514';
    $out['prov_' . $name] = guarded($guard, $pparams('-p-' . $name, $model), function ($hold) use ($provider, $kind, $how, $last, $transport) {
        $events = providerEvents($provider . '/' . $kind . '/' . $how, $transport, $last);
        $text = '';
        foreach ($kind === 'openai' ? $hold->openaiStream($events) : $hold->anthropicStream($events) as $e) {
            $text .= $e['choices'][0]['delta']['content'] ?? $e['delta']['text'] ?? '';
        }
        return $text;
    });
}
$out['prov_account'] = $read->getAccount($pacct);

// Cache writes through the explicit calls: settle()'s $cacheWriteInputTokens, recordUsage()'s field.
$cacct = $prefix . '-cw';
$admin->createAccount($cacct);
$out['cw_balance_before'] = $read->getAccount($cacct)['balance_micros'];
$ch = $guard->authorize(['account' => $cacct, 'request_id' => $prefix . '-cw1', 'model' => 'claude-sonnet-4-20250514',
                         'input_tokens' => 4000, 'max_output_tokens' => 500]);
$out['cw_hold_id'] = $ch['hold_id'];
$out['cw_settle'] = $guard->settle($ch['hold_id'], 4000, 21, 600, null, null, 3000);
$out['cw_usage'] = $guard->recordUsage(['account' => $cacct, 'model' => 'claude-sonnet-4-20250514',
    'input_tokens' => 4000, 'output_tokens' => 21, 'cached_input_tokens' => 600, 'cache_write_input_tokens' => 3000.0,
    'request_id' => $prefix . '-cw2']);
$out['cw_account'] = $read->getAccount($cacct);

echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION), "\n";
