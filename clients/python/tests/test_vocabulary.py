"""The client against the three clients' one vocabulary (clients/vocabulary.json)
and creditd's version (configure.ac): a drift between them fails here.

The same file is read by the PHP (tests/VocabularyTest.php) and Node
(test/vocabulary.test.js) suites.
"""
import inspect
import json
import os
import re
import unittest
import warnings
from typing import Any, Dict, List, Optional, Tuple, Type

import creditd
from creditd import AsyncCreditd, Creditd, CreditdError

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.dirname(os.path.dirname(HERE))
VOCABULARY = os.path.join(CLIENTS, "vocabulary.json")
CONFIGURE_AC = os.path.join(os.path.dirname(CLIENTS), "configure.ac")
IN_TREE = os.path.exists(VOCABULARY)


def vocabulary() -> Dict[str, Any]:
    with open(VOCABULARY) as f:
        data: Dict[str, Any] = json.load(f)
    return data


def error_of(status: int, code: Optional[str]) -> CreditdError:
    body = {"error": {"type": "t", "code": code, "message": "m", "param": None}} if code else None
    return creditd.error_for(status, body, {}, None)


@unittest.skipUnless(IN_TREE, "clients/vocabulary.json is in creditd's source tree only")
class ErrorClasses(unittest.TestCase):
    def setUp(self) -> None:
        self.v = vocabulary()
        self.base = getattr(creditd, self.v["base"]["python"])

    def cls(self, name: str) -> Type[CreditdError]:
        found = getattr(creditd, name, None)
        self.assertIsNotNone(found, "creditd.%s" % name)
        assert isinstance(found, type)
        return found

    def test_every_class_with_its_parent(self) -> None:
        for name, spec in self.v["classes"].items():
            cls = self.cls(name)
            self.assertEqual(cls.__name__, name, "%s is its own class, not an alias" % name)
            parent = self.cls(spec["parent"]) if spec["parent"] else self.base
            self.assertIs(cls.__bases__[0], parent, "%s extends %s" % (name, parent.__name__))
            self.assertIs(bool(cls.retried), spec["retried"], "%s retried" % name)

    def test_every_code_of_creditd_has_its_class(self) -> None:
        for row in self.v["codes"]:
            e = error_of(row["status"], row["code"])
            self.assertEqual(type(e).__name__, row["class"], "%(status)d %(code)s" % row)
            self.assertEqual((e.status, e.code), (row["status"], row["code"]))

    def test_a_code_unknown_or_with_another_status_goes_by_the_status(self) -> None:
        statuses = {k: v for k, v in self.v["statuses"].items() if k != "about"}
        for key, name in statuses.items():
            status = {"4xx": 418, "5xx": 504}.get(key) or int(key)
            codes: List[Optional[str]] = ["no_such_code", "forbidden" if status >= 500 else "unavailable"]
            if str(status) not in self.v["without_code"]:
                codes.append(None)
            for code in codes:
                self.assertEqual(type(error_of(status, code)).__name__, name, "%d %r" % (status, code))
        self.assertIs(type(error_of(302, None)), self.base)

    def test_an_answer_without_a_code_goes_by_without_code(self) -> None:
        without = {k: v for k, v in self.v["without_code"].items() if k != "about"}
        self.assertEqual(without, {"429": "RateLimited", "502": "Unavailable", "503": "Unavailable",
                                   "504": "Unavailable"})
        for key, name in without.items():
            status = int(key)
            for body in (None, {"error": "Bad Gateway"}, {"error": {"message": "no code"}}, ["x"]):
                e = creditd.error_for(status, body, {"Retry-After": "4"}, "<html>%d</html>" % status)
                self.assertEqual(type(e).__name__, name, "%d %r" % (status, body))
                self.assertEqual((e.status, e.code, e.retry_after), (status, None, 4))
        self.assertNotIsInstance(error_of(429, None), creditd.LimitReached)

    def test_a_code_of_any_5xx_is_its_class_with_every_5xx(self) -> None:
        any_5xx = {k: v for k, v in self.v["any_5xx"].items() if k != "about"}
        self.assertEqual(any_5xx, {"unavailable": "Unavailable"})
        for code, name in any_5xx.items():
            for status in (500, 502, 503, 504, 599):
                e = error_of(status, code)
                self.assertEqual(type(e).__name__, name, "%d %s" % (status, code))
                self.assertEqual((e.status, e.code), (status, code))
            for status in (400, 429):
                self.assertNotEqual(type(error_of(status, code)).__name__, name, "%d %s" % (status, code))

    def test_former_names_are_aliases(self) -> None:
        aliases = self.v["deprecated_classes"]["python"]
        for old, new in aliases.items():
            self.assertIs(getattr(creditd, old), self.cls(new), "%s is %s" % (old, new))
            self.assertIn(old, creditd.__all__)


class _Fake:
    """Stands in for the network: answers a script of (status, code) pairs."""

    def __init__(self, answers: List[Tuple[int, Optional[str]]]) -> None:
        self.answers = answers
        self.tries = 0
        self.body: Optional[bytes] = None

    def answer(self, call: object) -> Tuple[int, bytes, Dict[str, str]]:
        status, code = self.answers[min(self.tries, len(self.answers) - 1)]
        self.tries += 1
        if self.body is not None and status >= 300:
            return status, self.body, {}
        body: Dict[str, Any] = {"ok": True}
        if code:
            body = {"error": {"type": "t", "code": code, "message": "m", "param": None}}
        return status, json.dumps(body).encode(), {}


def _tries(fake: "_Fake") -> int:
    """How many times a client allowed one retry sends models() to fake."""
    c = Creditd("http://127.0.0.1:9", "k", max_retries=1, retry_delay_ms=0)
    setattr(c, "_send_once", fake.answer)
    try:
        c.models()
    except CreditdError:
        pass
    return int(fake.tries)


@unittest.skipUnless(IN_TREE, "clients/vocabulary.json is in creditd's source tree only")
class Retries(unittest.TestCase):
    def test_only_the_classes_marked_retried_are_sent_again(self) -> None:
        v = vocabulary()
        for row in v["codes"]:
            fake = _Fake([(row["status"], row["code"]), (200, None)])
            retried = v["classes"][row["class"]]["retried"]
            self.assertEqual(_tries(fake), 2 if retried else 1, "%(status)d %(code)s" % row)

    def test_an_answer_without_a_code_or_a_code_of_any_5xx_is_retried_as_its_class(self) -> None:
        v = vocabulary()
        cases = [(int(k), None, name) for k, name in v["without_code"].items() if k != "about"]
        cases += [(status, code, name) for code, name in v["any_5xx"].items() if code != "about"
                  for status in (500, 502, 503, 504)]
        for status, code, name in cases:
            fake = _Fake([(status, code), (200, None)])
            if code is None:
                fake.body = b"<html><body>%d</body></html>" % status
            self.assertEqual(_tries(fake), 2 if v["classes"][name]["retried"] else 1, "%d %r" % (status, code))


@unittest.skipUnless(IN_TREE, "clients/vocabulary.json is in creditd's source tree only")
class Options(unittest.TestCase):
    def test_the_options_their_names_and_defaults(self) -> None:
        for client in (Creditd, AsyncCreditd):
            params = inspect.signature(client).parameters
            c = client("http://127.0.0.1:9", "k")
            for opt in vocabulary()["options"]:
                name = opt["python"]
                self.assertIn(name, params, "%s(%s=)" % (client.__name__, name))
                self.assertIs(params[name].kind, inspect.Parameter.KEYWORD_ONLY, name)
                want = opt["default"]
                if isinstance(want, str):
                    want = want.format(language="python", version=creditd.VERSION)
                self.assertEqual(getattr(c, name), want, "%s.%s" % (client.__name__, name))

    def test_a_number_option_is_a_whole_number_within_its_range(self) -> None:
        for client in (Creditd, AsyncCreditd):
            for opt in vocabulary()["options"]:
                if "min" not in opt:
                    continue
                name, low, high = opt["python"], opt["min"], opt["max"]
                for good in (low, high, float(high)):
                    self.assertEqual(getattr(client("http://127.0.0.1:9", "k", **{name: good}), name), good, name)
                self.assertEqual(getattr(client("http://127.0.0.1:9", "k", **{name: None}), name), opt["default"],
                                 "%s=None takes the default" % name)
                for bad, error in ((low - 1, ValueError), (high + 1, ValueError), (2.5, ValueError),
                                   (float("inf"), ValueError), ("5", TypeError), (True, TypeError)):
                    with self.assertRaises(error, msg="%s=%r" % (name, bad)):
                        client("http://127.0.0.1:9", "k", **{name: bad})

    def test_former_option_names_still_work_converted(self) -> None:
        v = vocabulary()
        for client in (Creditd, AsyncCreditd):
            for old, new in v["deprecated_options"]["python"].items():
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    kw: Dict[str, Any] = {old: 3}
                    c = client("http://127.0.0.1:9", "k", **kw)
                factor = 1000 if new["unit"] == "s" else 1
                self.assertEqual(getattr(c, new["name"]), 3 * factor, "%s=3 is %s" % (old, new["name"]))
                self.assertTrue(any(issubclass(w.category, DeprecationWarning) for w in caught), old)


class Version(unittest.TestCase):
    def test_one_version_in_the_package(self) -> None:
        self.assertEqual(creditd.__version__, creditd.VERSION)
        with open(os.path.join(os.path.dirname(HERE), "pyproject.toml")) as f:
            pyproject = f.read()
        static = re.search(r'(?m)^version = "([^"]+)"', pyproject)
        if static:
            self.assertEqual(static.group(1), creditd.VERSION, "pyproject.toml's version")
        else:
            self.assertIn('version = {attr = "creditd._version.VERSION"}', pyproject)
        self.assertEqual(Creditd("http://127.0.0.1:9", "k").user_agent, "creditd-client-python/" + creditd.VERSION)

    @unittest.skipUnless(os.path.exists(CONFIGURE_AC), "configure.ac is in creditd's source tree only")
    def test_the_version_is_creditds(self) -> None:
        with open(CONFIGURE_AC) as f:
            found = re.search(r"AC_INIT\(\[creditd\],\s*\[([^\]]+)\]", f.read())
        assert found is not None
        self.assertEqual(creditd.VERSION, found.group(1))


if __name__ == "__main__":
    unittest.main()
