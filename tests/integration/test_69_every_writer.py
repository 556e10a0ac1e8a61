"""test_69_every_writer.py: every writer of money at once on four hot
accounts, through both creditd processes of the stack (nginx's and
Apache's) on one database, for 30 s at 32 clients (DESIGN §14, "No money
written from a row that was not locked or checked").

Guard pairs (settled within and beyond the hold, released, left to
expire, settled late; with and without a member, the settle mostly
without an Idempotency-Key), direct usage, admin grants (some expiring
within seconds) and debits, Stripe top-ups credited and refunded by
signed webhooks, promo redemptions, auto-recharges, gateway calls
streamed and whole, the gateway's images, audio, embeddings, background
runs, batches and provider timeouts resolved by creditctl
(every_writer_gateway.py), and the clock moved into the next month
mid-run (a plan period and expiries coming due). It proves that afterwards every
hot account's balance is the sum of its journal, its reserve the sum of
its pending holds, each journal row's balance_after the running sum,
creditctl verify finds nothing, no answer was a 5xx and both processes
still run; each background run and batch line charged once, each
unresolved hold resolved once. Both processes mail the hot accounts' balance.low and
alert.threshold events to an SMTP sink meanwhile (every_writer_mail.py):
each event mailed once, none twice. The workload and its checks are
every_writer.py's (shared with tests/chaos/chaos_every_writer.py).
On the code before sql/040 (cd_write's version check unlocking the rows
still at the version decided on) it fails in most runs: grants and
charges vanish from the balance, the journal chain breaks.
"""
import every_writer
import every_writer_mail


def test_every_writer_at_once_through_both_processes():
    with every_writer_mail.Mailing() as mail:
        fig = every_writer.Workload(every_writer.integration_target(), seconds=30, clients=32, mail=mail).run()
    print("    every writer: %s" % " ".join("%s=%s" % kv for kv in sorted(fig.items())), flush=True)
