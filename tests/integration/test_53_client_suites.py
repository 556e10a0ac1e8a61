"""test_53_client_suites.py: each client's own checks, run the way its
ecosystem runs them, as part of ./dev check.

Python (clients/python): the unittest suite, `mypy --strict` and an offline
build of the sdist and wheel (Debian's python3-build, no network). Node
(clients/node): `node --test`, and `tsc` (npm's typescript, test tooling
only) type-checks index.d.ts against test/types-check.ts, whose
@ts-expect-error lines must fail. PHP's phpunit suite and `composer validate`
run in test_51. The
live tests against this stack are test_50 (Python), test_51 (PHP) and
test_52 (Node); these run each package's own suite. A suite that fails
prints its output in the failure.
"""
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile

from lib import check, eq, npm_tool

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PY_CLIENT = os.path.join(ROOT, "clients", "python")
NODE_CLIENT = os.path.join(ROOT, "clients", "node")
TYPESCRIPT = "typescript@5.9.3"


def run(argv, cwd, timeout=300, env=None):
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    check(p.returncode == 0, "%s failed (exit %d):\n%s\n%s" % (" ".join(argv), p.returncode, p.stdout[-4000:],
                                                            p.stderr[-4000:]))
    return p.stdout + p.stderr


def test_python_client_unittest():
    out = run(["/usr/bin/python3", "-m", "unittest", "discover", "-s", "tests", "-t", "."], PY_CLIENT,
              env={"PYTHONPATH": os.path.join(PY_CLIENT, "src")})
    check("OK" in out, "unittest says OK: %s" % out[-500:])


def test_python_client_mypy_strict():
    out = run(["mypy", "--strict", "src", "tests"], PY_CLIENT)
    check("Success" in out, "mypy --strict: %s" % out[-500:])


def test_python_client_builds_offline():
    out_dir = tempfile.mkdtemp(prefix="creditd-pybuild.")
    try:
        # A copy: the build writes into the source tree (egg-info, build/).
        src = os.path.join(out_dir, "src")
        shutil.copytree(PY_CLIENT, src, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__"))
        run(["/usr/bin/python3", "-m", "build", "--no-isolation", "--outdir", os.path.join(out_dir, "dist"), src],
            out_dir)
        built = sorted(os.listdir(os.path.join(out_dir, "dist")))
        check(any(b.endswith(".whl") for b in built) and any(b.endswith(".tar.gz") for b in built),
              "a wheel and an sdist: %r" % built)
        # MIT, as the Node and PHP packages, with the license's text inside.
        wheel = os.path.join(out_dir, "dist", [b for b in built if b.endswith(".whl")][0])
        with zipfile.ZipFile(wheel) as z:
            names = z.namelist()
            license_files = [n for n in names if n.endswith(".dist-info/LICENSE")]
            check(license_files, "the wheel carries LICENSE: %r" % names)
            eq(z.read(license_files[0]).decode(), top_license(), "the wheel's LICENSE is creditd's")
            metadata = z.read([n for n in names if n.endswith(".dist-info/METADATA")][0]).decode()
        check("License: MIT" in metadata.splitlines(), "the wheel's metadata says MIT: %s" % metadata[:600])
        sdist = os.path.join(out_dir, "dist", [b for b in built if b.endswith(".tar.gz")][0])
        with tarfile.open(sdist) as t:
            check(any(n.endswith("/LICENSE") for n in t.getnames()), "the sdist carries LICENSE")
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def top_license():
    with open(os.path.join(ROOT, "LICENSE")) as f:
        return f.read()


def test_every_client_package_is_mit_with_its_license():
    """The Node package as npm packs it carries LICENSE; the three
    manifests say MIT, and each package's LICENSE is creditd's (the PHP
    one installed by Composer: test_51)."""
    for client in ("python", "node", "php"):
        with open(os.path.join(ROOT, "clients", client, "LICENSE")) as f:
            eq(f.read(), top_license(), "clients/%s/LICENSE is creditd's LICENSE" % client)
    with open(os.path.join(NODE_CLIENT, "package.json")) as f:
        eq(json.load(f)["license"], "MIT", "package.json: MIT")
    with open(os.path.join(ROOT, "clients", "php", "composer.json")) as f:
        eq(json.load(f)["license"], "MIT", "composer.json: MIT")
    with open(os.path.join(PY_CLIENT, "pyproject.toml")) as f:
        check('license = {text = "MIT"}' in f.read(), "pyproject.toml: MIT")
    out = run(["npm", "pack", "--dry-run", "--json"], NODE_CLIENT, env={"npm_config_cache": tempfile.mkdtemp()})
    files = [f["path"] for f in json.loads(out[out.index("["):out.rindex("]") + 1])[0]["files"]]
    check("LICENSE" in files, "npm pack carries LICENSE: %r" % files)


def test_node_client_node_test():
    out = run(["node", "--test", "test/"], os.path.join(ROOT, "clients", "node"))
    check("# fail 0" in out, "node --test: %s" % out[-800:])


def test_node_client_types_check_with_tsc():
    tsc = npm_tool(TYPESCRIPT, "tsc")
    run([tsc, "-p", os.path.join("test", "tsconfig.json")], NODE_CLIENT)
    # The check can fail: a declaration it relies on, loosened in a copy,
    # makes a line under @ts-expect-error compile, which tsc reports.
    work = tempfile.mkdtemp(prefix="creditd-tsc.")
    try:
        copy = os.path.join(work, "node")
        shutil.copytree(NODE_CLIENT, copy, ignore=shutil.ignore_patterns("node_modules"))
        dts = os.path.join(copy, "index.d.ts")
        with open(dts) as f:
            text = f.read()
        tight = "groupBy?: 'model' | 'day' | 'member'"
        check(tight in text, "index.d.ts names usageReport's groupings")
        with open(dts, "w") as f:
            f.write(text.replace(tight, "groupBy?: string"))
        p = subprocess.run([tsc, "-p", os.path.join("test", "tsconfig.json")], cwd=copy, capture_output=True,
                           text=True, timeout=300)
        check(p.returncode != 0 and "TS2578" in p.stdout,
              "a loosened index.d.ts fails the check (exit %d): %s" % (p.returncode, p.stdout[-800:]))
    finally:
        shutil.rmtree(work, ignore_errors=True)

