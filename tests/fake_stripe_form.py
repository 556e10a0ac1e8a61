"""fake_stripe_form.py: how the Stripe stand-in (fake_stripe.py) reads a
request the way Stripe does: a form-encoded body with nested bracket
parameters (a[b][0]=...), at most MAX_FIELDS of them, and the checks of one
value (strings, integers, booleans, enums, URLs, e-mails, metadata,
hashes and lists, unknown and exclusive parameters), each failing with
Stripe's invalid_request_error naming the parameter (StripeError)."""

import json
import re
import secrets
import string
from urllib.parse import parse_qsl, urlsplit

MAX_FIELDS = 2000
ALNUM = string.ascii_letters + string.digits

def rand_id(prefix, n):
    return prefix + "".join(secrets.choice(ALNUM) for _ in range(n))


class StripeError(Exception):
    """An answer in Stripe's error shape."""

    def __init__(self, status, message, type_="invalid_request_error", code=None, param=None, payment_intent=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.payment_intent = payment_intent

    def body(self):
        err = {"type": self.type, "message": self.message}
        if self.code is not None:
            err["code"] = self.code
            err["doc_url"] = "https://stripe.com/docs/error-codes/" + self.code.replace("_", "-")
        if self.param is not None:
            err["param"] = self.param
        if self.payment_intent is not None:
            # Stripe names the PaymentIntent of an error about one (a
            # declined confirmation, a cancel in the wrong state).
            err["payment_intent"] = self.payment_intent
        return {"error": err}


def unknown(param):
    return StripeError(400, "Received unknown parameter: %s" % param, code="parameter_unknown", param=param)


def missing(param):
    return StripeError(400, "Missing required param: %s." % param, code="parameter_missing", param=param)


def invalid(param, message, code="parameter_invalid"):
    return StripeError(400, message, code=code, param=param)


def sub(prefix, key):
    return "%s[%s]" % (prefix, key) if prefix else key


# ---- form parsing -----------------------------------------------------------

def parse_key(key):
    """'a[b][0]' -> ['a', 'b', '0']; '' segments mean 'append'."""
    i = key.find("[")
    if i == -1:
        if "]" in key or key == "":
            raise invalid(key, "Invalid parameter name: %r" % key)
        return [key]
    if i == 0:
        raise invalid(key, "Invalid parameter name: %r" % key)
    parts = [key[:i]]
    rest = key[i:]
    while rest:
        j = rest.find("]")
        if rest[0] != "[" or j == -1 or "[" in rest[1:j]:
            raise invalid(key, "Invalid parameter name: %r" % key)
        parts.append(rest[1:j])
        rest = rest[j + 1:]
    return parts


def nest(pairs):
    """Rack-style nesting of bracketed keys into dicts (arrays stay dicts of
    '0', '1', ... until a validator asks for a list)."""
    root = {}
    for key, value in pairs:
        parts = parse_key(key)
        node = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":
                part = str(len(node))
            if last:
                if isinstance(node.get(part), dict):
                    raise invalid(key, "Invalid hash: %s is both a value and an object" % key)
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise invalid(key, "Invalid hash: %s is both a value and an object" % key)
                node = child
    return root


def listify(v):
    """For the recorded view: dicts keyed 0..n-1 (from a[0], a[1]) become lists."""
    if not isinstance(v, dict):
        return v
    if v and all(k.isdigit() for k in v) and sorted(int(k) for k in v) == list(range(len(v))):
        return [listify(v[str(i)]) for i in range(len(v))]
    return {k: listify(x) for k, x in v.items()}


def parse_form(raw):
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise StripeError(400, "Invalid request: the body must be percent-encoded ASCII "
                          "(application/x-www-form-urlencoded).")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, encoding="utf-8",
                          errors="strict", max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as e:
        raise StripeError(400, "Invalid request body: %s" % e)
    return pairs


# ---- value checks -----------------------------------------------------------

def want_str(v, param, maxlen=5000, allow_empty=True):
    if not isinstance(v, str):
        raise invalid(param, "Invalid string: %s" % json.dumps(v), "parameter_invalid_string")
    if not allow_empty and v == "":
        raise invalid(param, "You passed an empty string for '%s'. We assume empty values are an attempt to "
                      "unset a parameter; however '%s' cannot be unset. You should remove '%s' from your "
                      "request or supply a non-empty value." % (param, param, param),
                      "parameter_invalid_empty")
    if len(v) > maxlen:
        raise invalid(param, "Invalid string: %s...; must be at most %d characters" % (v[:20], maxlen),
                      "string_length_exceeds_maximum")
    return v


def want_int(v, param, minimum=None):
    if not isinstance(v, str) or not re.fullmatch(r"-?[0-9]{1,18}", v):
        raise invalid(param, "Invalid integer: %s" % (v if isinstance(v, str) else json.dumps(v)),
                      "parameter_invalid_integer")
    n = int(v)
    if minimum is not None and n < minimum:
        raise invalid(param, "This value must be greater than or equal to %d." % minimum,
                      "parameter_invalid_integer")
    return n


def want_bool(v, param):
    if v not in ("true", "false"):
        raise invalid(param, "Invalid boolean: %s" % json.dumps(v))
    return v == "true"


def want_enum(v, param, allowed):
    want_str(v, param)
    if v not in allowed:
        raise invalid(param, "Invalid %s: must be one of %s" % (param, ", ".join(allowed)))
    return v


def want_url(v, param):
    want_str(v, param, maxlen=5000, allow_empty=False)
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in v):
        raise invalid(param, "Not a valid URL", "url_invalid")
    return v


def want_email(v, param):
    want_str(v, param, maxlen=512, allow_empty=False)
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v):
        raise invalid(param, "Invalid email address: %s" % v, "email_invalid")
    return v


def want_dict(v, param):
    if not isinstance(v, dict):
        raise invalid(param, "Invalid object", "parameter_invalid_object")
    return v


def want_list(v, param):
    """A dict of '0'..'n-1' (from brackets) as a list; '' unsets."""
    if v == "":
        return []
    if not isinstance(v, dict) or not all(k.isdigit() for k in v):
        raise invalid(param, "Invalid array", "parameter_invalid_array")
    keys = sorted(v, key=int)
    if [int(k) for k in keys] != list(range(len(keys))):
        raise invalid(param, "Invalid array: indexes must be 0, 1, 2, ... without gaps",
                      "parameter_invalid_array")
    return [v[k] for k in keys]


def check_keys(d, allowed, prefix):
    for k in d:
        if k not in allowed:
            raise unknown(sub(prefix, k))


def want_metadata(v, param):
    if v == "":
        return {}
    want_dict(v, param)
    if len(v) > 50:
        raise invalid(param, "You can have up to 50 metadata keys, but you passed in %d." % len(v))
    out = {}
    for k, val in v.items():
        if len(k) > 40:
            raise invalid(sub(param, k), "Metadata keys can have up to 40 characters, but you passed in a key "
                          "that is %d characters. Invalid key: %s" % (len(k), k))
        if not isinstance(val, str):
            raise invalid(sub(param, k), "Invalid metadata value for %s: metadata values must be strings"
                          % sub(param, k))
        if len(val) > 500:
            raise invalid(sub(param, k), "Metadata values can have up to 500 characters, but you passed in a "
                          "value that is %d characters. Invalid value: %s" % (len(val), val[:40]))
        out[k] = val
    return out


def want_enabled(v, param):
    want_dict(v, param)
    check_keys(v, ("enabled", "liability", "position"), param)
    if "enabled" not in v:
        raise missing(sub(param, "enabled"))
    return {"enabled": want_bool(v["enabled"], sub(param, "enabled"))}


def shallow(v, param):
    """Parameters we accept without looking inside (documented, unused by creditd)."""
    if not isinstance(v, (str, dict)):
        raise invalid(param, "Invalid value")
    return v


def exclusive(d, a, b, prefix=""):
    if a in d and b in d:
        raise StripeError(400, "You may only specify one of these parameters: %s, %s." % (sub(prefix, a),
                                                                                       sub(prefix, b)))
