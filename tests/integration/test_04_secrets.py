"""test_04_secrets.py: secrets, config and database rights (DESIGN §10).

Signing secrets shorter than 32 bytes and a config file that holds a
secret and is readable by others stop creditd's start-up (and creditctl)
with a message naming them. The runtime database user can read and write
rows and call the procedures, but neither change the schema nor get past
the journal's append-only triggers; migrations run as the schema's owner."""
import os
import re
import subprocess
import tempfile

from lib import ENV, Fail, check, creditctl, eq, new_account, sql

ROOT = os.path.dirname(ENV["CREDITCTL"])
CREDITD = os.path.join(ROOT, "creditd")


def _conf_text(change=None):
    with open(ENV["CREDITD_CONFIG"]) as f:
        text = f.read()
    return change(text) if change else text


def _write(text, mode=0o600):
    d = tempfile.mkdtemp(prefix="creditd-t04-", dir=ENV["CREDITD_STACK_DIR"])
    path = os.path.join(d, "creditd.conf")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def _start_fails(conf, env=None):
    """Starts creditd for real (not --check-config) on conf: it must exit
    non-zero by itself; returns its stderr."""
    sock = os.path.join(os.path.dirname(conf), "c.sock")
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITD_")}
    run_env.update(env or {})
    p = subprocess.Popen([CREDITD, "-c", conf, "--listen", "unix:" + sock], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env)
    try:
        _, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise Fail("creditd started and kept running on %s" % conf)
    check(p.returncode != 0, "creditd exited %d: %s" % (p.returncode, err))
    return err


def _ctl_fails(conf, env=None):
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITD_")}
    run_env.update(env or {})
    p = subprocess.run([ENV["CREDITCTL"], "-c", conf, "key", "list"], capture_output=True, text=True, timeout=30,
                       env=run_env)
    check(p.returncode != 0, "creditctl ran on %s: %s" % (conf, p.stdout))
    return p.stderr


def _set(key, value):
    return lambda text: re.sub(r"(?m)^%s = .*$" % key, "%s = %s" % (key, value), text)


def test_a_short_token_secret_stops_start_up_and_creditctl():
    conf = _write(_conf_text(_set("token_secret", "0123456789abcdef0123456789abcde")))
    err = _start_fails(conf)
    check("widget.token_secret" in err and "32" in err, "the message names the key: %r" % err)
    check("0123456789abcdef0123456789abcde" not in err, "and never the secret")
    check("widget.token_secret" in _ctl_fails(conf), "creditctl refuses it too")


def test_a_short_webhook_secret_of_two_stops_start_up():
    conf = _write(_conf_text(lambda t: re.sub(r"(?m)^webhook_secrets = (.*)$", r"webhook_secrets = \1,whsec_short",
                                              t)))
    err = _start_fails(conf)
    check("stripe.webhook_secrets" in err, "the message names the key: %r" % err)


def test_a_short_notify_secret_from_the_environment_stops_start_up():
    conf = _write(_conf_text())
    env = {"CREDITD_NOTIFY_URL": "http://127.0.0.1:9/x", "CREDITD_NOTIFY_SECRET": "whsec_tooshort"}
    err = _start_fails(conf, env)
    check("notify.secret" in err and "CREDITD_NOTIFY_SECRET" in err, "the message names the key: %r" % err)
    check("notify.secret" in _ctl_fails(conf, env), "creditctl refuses it too")


def test_a_config_with_secrets_readable_by_others_stops_start_up():
    conf = _write(_conf_text(), mode=0o644)
    err = _start_fails(conf)
    check(conf in err and "readable by others" in err, "the message names the file: %r" % err)
    check(conf in _ctl_fails(conf), "creditctl refuses it too")
    os.chmod(conf, 0o640)
    p = subprocess.run([CREDITD, "-c", conf, "--check-config"], capture_output=True, text=True, timeout=10)
    eq(p.returncode, 0, "0640 is fine: %s" % p.stderr)


def test_a_config_others_may_write_stops_start_up_secret_or_not():
    # No secret in the file (the password from the environment): others
    # may read it, but not write it; a secret in it: not its group either.
    # creditctl refuses either with exit 2, as a bad config.
    text = _conf_text(lambda t: re.sub(r"(?m)^(password|migrate_password|secret_key|webhook_secrets|token_secret|openai_api_key|anthropic_api_key)"
                                       r" = .*$", r"\1 =", t))
    password = re.search(r"(?m)^password = (.*)$", _conf_text()).group(1)
    env = {"CREDITD_DB_PASSWORD": password}
    conf = _write(text, mode=0o646)
    err = _start_fails(conf, env)
    check(conf in err and "writable by others" in err, "the message names the file: %r" % err)
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITD_")}
    run_env.update(env)
    p = subprocess.run([ENV["CREDITCTL"], "-c", conf, "key", "list"], capture_output=True, text=True, timeout=30,
                       env=run_env)
    eq(p.returncode, 2, "creditctl refuses it, exit 2: %s" % p.stderr)
    check(conf in p.stderr and "chmod o-w" in p.stderr, "naming the file and the way out: %r" % p.stderr)
    conf = _write(_conf_text(), mode=0o660)
    err = _start_fails(conf)
    check(conf in err and "writable by its group" in err, "a secret in a group-writable file: %r" % err)
    os.chmod(conf, 0o640)
    p = subprocess.run([CREDITD, "-c", conf, "--check-config"], capture_output=True, text=True, timeout=10)
    eq(p.returncode, 0, "0640 is fine: %s" % p.stderr)


def test_secrets_from_the_environment_do_not_make_a_file_private():
    # No secret in the file: others may read it; the password comes from
    # the environment.
    text = _conf_text(lambda t: re.sub(r"(?m)^(password|migrate_password|secret_key|webhook_secrets|token_secret|openai_api_key|anthropic_api_key)"
                                       r" = .*$", r"\1 =", t))
    conf = _write(text, mode=0o644)
    password = re.search(r"(?m)^password = (.*)$", _conf_text()).group(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDITD_")}
    env["CREDITD_DB_PASSWORD"] = password
    p = subprocess.run([ENV["CREDITCTL"], "-c", conf, "key", "list"], capture_output=True, text=True, timeout=30,
                       env=env)
    eq(p.returncode, 0, "a world-readable file without secrets, the password from the environment: %s" % p.stderr)


def _runtime_sql(statement):
    """Runs SQL as the stack's runtime user (creditd), its password from the
    stack's config; returns (returncode, stdout, stderr)."""
    text = _conf_text()
    password = re.search(r"(?m)^password = (.*)$", text).group(1)
    user = re.search(r"(?m)^user = (.*)$", text).group(1)
    socket = re.search(r"(?m)^socket = (.*)$", text).group(1)
    p = subprocess.run(["mariadb", "--no-defaults", "--socket=" + socket, "-u", user, "-N", "-B", "creditd",
                        "-e", statement], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, MYSQL_PWD=password))
    return p.returncode, p.stdout, p.stderr


def _restore_trigger(name):
    # Put back what an over-privileged user could drop, so that a failure
    # here leaves the other tests their append-only journal.
    if sql("SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = 'creditd' "
           "AND trigger_name = '%s'" % name) == [["1"]]:
        return
    with open(os.path.join(ROOT, "sql", "001_init.sql")) as f:
        init = f.read()
    m = re.search(r"CREATE TRIGGER %s .*?;" % name, init, re.S)
    sql(m.group(0))


def test_the_runtime_user_cannot_change_the_schema_or_the_journal():
    rc, out, err = _runtime_sql("SELECT COUNT(*) FROM journal")
    eq(rc, 0, "the runtime user reads: %s" % err)
    rc, out, err = _runtime_sql("SHOW GRANTS")
    check("ALL PRIVILEGES" not in out, "no ALL: %s" % out)
    check("SELECT, INSERT, UPDATE, DELETE, EXECUTE" in out, "the five rights: %s" % out)
    try:
        for trigger in ("journal_append_only_update", "journal_append_only_delete"):
            rc, _, err = _runtime_sql("DROP TRIGGER %s" % trigger)
            check(rc != 0, "the runtime user dropped %s" % trigger)
            check("denied" in err, "refused for want of the right: %s" % err)
    finally:
        _restore_trigger("journal_append_only_update")
        _restore_trigger("journal_append_only_delete")
    new_account("t04")      # its signup bonus is a journal row
    for statement in ("UPDATE journal SET amount_micros = amount_micros + 1 ORDER BY id DESC LIMIT 1",
                      "DELETE FROM journal ORDER BY id DESC LIMIT 1"):
        rc, _, err = _runtime_sql(statement)
        check(rc != 0 and "append-only" in err, "%s refused: %s" % (statement, err))
    for statement in ("CREATE TABLE t04_probe (i INT)", "ALTER TABLE journal ADD COLUMN t04 INT",
                      "DROP TABLE schema_migrations"):
        rc, _, err = _runtime_sql(statement)
        check(rc != 0 and "denied" in err, "%s refused: %s" % (statement, err))


def test_migrate_runs_as_the_owner_and_not_as_the_runtime_user():
    text = _conf_text()
    owner = re.search(r"(?m)^migrate_user = (.*)$", text).group(1)
    owner_pw = re.search(r"(?m)^migrate_password = (.*)$", text).group(1)
    runtime_pw = re.search(r"(?m)^password = (.*)$", text).group(1)
    sql_dir = os.path.join(ROOT, "sql")
    d = tempfile.mkdtemp(prefix="creditd-t04-", dir=ENV["CREDITD_STACK_DIR"])
    pw = os.path.join(d, "pw")
    with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(owner_pw + "\n")
    p = creditctl("migrate", "--sql-dir", sql_dir, "--user", owner, "--password-file", pw, check_rc=False)
    eq(p.returncode, 0, "migrate --user OWNER --password-file: %s" % p.stderr)
    with open(pw, "w") as f:
        f.write(runtime_pw + "\n")
    p = creditctl("migrate", "--sql-dir", sql_dir, "--user", "creditd", "--password-file", pw, check_rc=False)
    check(p.returncode != 0 and "denied" in p.stderr, "the runtime user cannot migrate: %s" % p.stderr)
    os.chmod(pw, 0o644)
    p = creditctl("migrate", "--sql-dir", sql_dir, "--user", owner, "--password-file", pw, check_rc=False)
    check(p.returncode != 0 and pw in p.stderr, "a password file others may read is refused: %s" % p.stderr)
    env = {k: v for k, v in os.environ.items() if k not in ("CREDITD_DB_MIGRATE_USER", "CREDITD_DB_MIGRATE_PASSWORD")}
    env.update(CREDITD_DB_MIGRATE_USER=owner, CREDITD_DB_MIGRATE_PASSWORD=owner_pw)
    conf = _write(_conf_text(lambda t: re.sub(r"(?m)^migrate_(user|password) = .*\n", "", t)))
    p = subprocess.run([ENV["CREDITCTL"], "-c", conf, "migrate", "--sql-dir", sql_dir], capture_output=True, text=True,
                       timeout=60, env=env)
    eq(p.returncode, 0, "the owner from the environment: %s" % p.stderr)


def test_a_top_up_above_the_largest_grant_stops_start_up_and_creditctl():
    """DESIGN §10: topup_max_cents × topup_rate is the largest top-up grant,
    and no grant may exceed 10^12 micros."""
    # The defaults (100000 cents at 10000 micros a cent, 10^9) pass; a
    # rate ten thousand times that does not.
    big = "[stripe]\ntopup_max_cents = 100000\ntopup_rate = 100000000\n"
    conf = _write(_conf_text(lambda t: t.replace("[stripe]\n", big, 1)))
    err = _start_fails(conf)
    check("stripe.topup_max_cents" in err and "stripe.topup_rate" in err, "the message names the keys: %r" % err)
    check("stripe.topup_rate" in _ctl_fails(conf), "creditctl refuses it too")
