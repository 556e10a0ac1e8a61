"""chaos_every_writer.py: every writer of money at once on four hot
accounts, through both creditd processes of the stack (nginx's and
Apache's) on one database, for longer than ./dev check's integration
test: 120 s at 48 clients, the clock moved into the next month twice
(two plan periods coming due), more top-ups (docs/architecture.md, "Which rows a write
decides on"). The short version
(./dev check) runs 15 s at 32 clients, one month.

It proves what tests/integration/test_69_every_writer.py proves, over more
interleavings: afterwards every hot account's balance is the sum of its
journal, its reserve the sum of its pending holds (and each member's of
its own), each journal row's balance_after the running sum, creditctl
verify finds nothing, every answer was one the API promises, what was
acknowledged is in the database as answered, every writer wrote (the
gateway's later ones too: every_writer_gateway.py), each background run
and batch line charged once and each unresolved hold resolved once, and
both processes still run, and both mailed each of the hot accounts'
events once (every_writer_mail.py). The workload and the checks are
tests/integration/every_writer.py's.
"""
import every_writer
import every_writer_mail


def every_writer_at_once(short):
    with every_writer_mail.Mailing() as mail:
        w = every_writer.Workload(every_writer.integration_target(), seconds=15 if short else 120,
                                  clients=32 if short else 48, jumps=1 if short else 2,
                                  topups_per_account=2 if short else 8, mail=mail)
        return w.run()


SCENARIOS = [every_writer_at_once]
