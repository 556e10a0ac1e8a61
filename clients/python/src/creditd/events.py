"""Pushed events: checking their Creditd-Signature."""
import hashlib
import hmac
import json
import time
from typing import Any, List, Optional, Union

from .errors import BadSignature

__all__ = ["verify_event", "sign_event", "DEFAULT_TOLERANCE"]

DEFAULT_TOLERANCE = 300
"""Seconds a signature's timestamp may be away from now, either way (as Stripe's scheme)."""


def _secret_bytes(secret: Union[str, bytes]) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def _payload_bytes(payload: Union[str, bytes, bytearray]) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def sign_event(payload: Union[str, bytes, bytearray], secret: Union[str, bytes], timestamp: Optional[int] = None) -> str:
    """The Creditd-Signature header creditd sends with `payload`:
    "t=TS,v1=HEX(HMAC-SHA256(secret, "TS.body"))" (for tests and stand-ins)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(_secret_bytes(secret), str(ts).encode("ascii") + b"." + _payload_bytes(payload), hashlib.sha256)
    return "t=%d,v1=%s" % (ts, mac.hexdigest())


def verify_event(payload: Union[str, bytes, bytearray], header: Optional[str], secret: Union[str, bytes],
                 tolerance: float = DEFAULT_TOLERANCE, now: Optional[float] = None) -> Any:
    """Checks a pushed event as it came in, before trusting it, and returns
    it decoded. payload: the raw request body (bytes, exactly as received);
    header: the Creditd-Signature header ("t=TS,v1=HEX", perhaps several v1);
    secret: [notify] secret. Raises BadSignature when no v1 matches
    HMAC-SHA256(secret, "TS.body") (compared in constant time) or TS is more
    than `tolerance` seconds away from now. Events are delivered at least
    once: skip an id you have handled already."""
    body = _payload_bytes(payload)
    t: Optional[int] = None
    sigs: List[str] = []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            t = int(value)
        elif key == "v1" and value:
            sigs.append(value.lower())
    if t is None or not sigs:
        raise BadSignature("no t= and v1= in the Creditd-Signature header")
    if abs((time.time() if now is None else now) - t) > tolerance:
        raise BadSignature("the signature's timestamp is outside the tolerance")
    mac = hmac.new(_secret_bytes(secret), str(t).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    # Every candidate is compared (no early exit on a match).
    matched = False
    for s in sigs:
        matched |= hmac.compare_digest(mac.encode("ascii"), s.encode("ascii", "replace"))
    if not matched:
        raise BadSignature("no signature matches the secret")
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError as e:
        raise BadSignature("the signed body is not JSON") from e
