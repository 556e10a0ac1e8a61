"""Creditd-Signature: t=TS,v1=HMAC-SHA256(secret, "TS.body")."""
import hashlib
import hmac
import json
import unittest

from creditd import BadSignature, sign_event, verify_event

SECRET = "whsec_test"
BODY = json.dumps({"id": 7, "type": "balance.low", "account": "alice", "data": {}}).encode()
NOW = 1_800_000_000


def header(body: bytes = BODY, secret: str = SECRET, ts: int = NOW) -> str:
    mac = hmac.new(secret.encode(), b"%d." % ts + body, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (ts, mac)


class Signature(unittest.TestCase):
    def test_a_good_signature_returns_the_event(self) -> None:
        self.assertEqual(verify_event(BODY, header(), SECRET, now=NOW)["id"], 7)
        self.assertEqual(verify_event(BODY.decode(), header(), SECRET.encode(), now=NOW)["type"], "balance.low")
        self.assertEqual(sign_event(BODY, SECRET, NOW), header())

    def test_one_of_several_v1_matching_is_enough(self) -> None:
        h = "t=%d,v1=%s,v1=%s" % (NOW, "0" * 64, header().split("v1=")[1])
        self.assertEqual(verify_event(BODY, h, SECRET, now=NOW)["id"], 7)

    def test_tampered_body_wrong_secret_or_garbage_is_refused(self) -> None:
        for body, h, secret in ((BODY + b" ", header(), SECRET), (BODY, header(), "other"),
                                (BODY, "", SECRET), (BODY, "v1=abc", SECRET), (BODY, "t=%d" % NOW, SECRET),
                                (BODY, header().replace("v1=", "v0="), SECRET),
                                (BODY, "t=\u00b2,v1=" + "0" * 64, SECRET)):
            with self.assertRaises(BadSignature):
                verify_event(body, h, secret, now=NOW)

    def test_tolerance_both_ways(self) -> None:
        self.assertEqual(verify_event(BODY, header(), SECRET, now=NOW + 300)["id"], 7)
        self.assertEqual(verify_event(BODY, header(), SECRET, now=NOW - 300)["id"], 7)
        for now in (NOW + 301, NOW - 301):
            with self.assertRaises(BadSignature):
                verify_event(BODY, header(), SECRET, now=now)
        self.assertEqual(verify_event(BODY, header(), SECRET, tolerance=1000, now=NOW + 900)["id"], 7)

    def test_a_signature_of_the_old_timestamp_does_not_verify_a_replayed_new_one(self) -> None:
        forged = header().replace("t=%d" % NOW, "t=%d" % (NOW + 100))
        with self.assertRaises(BadSignature):
            verify_event(BODY, forged, SECRET, now=NOW + 100)


if __name__ == "__main__":
    unittest.main()
