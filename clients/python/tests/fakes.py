"""Stand-ins: a creditd guard API in memory, and provider streams cut off midway."""
from types import SimpleNamespace
from typing import Any, AsyncIterator, Dict, Iterable, Iterator, List, Optional, cast

from creditd import AsyncCreditd, Creditd, InsufficientCredits


class ProviderCut(Exception):
    """The provider's stream broke off."""


def cut(items: Iterable[Any], after: Optional[int] = None) -> Iterator[Any]:
    """Yields items (the first `after` of them), then breaks off."""
    for i, item in enumerate(items):
        if after is not None and i >= after:
            break
        yield item
    raise ProviderCut("stream cut off")


class FakeGuardAPI:
    """authorize/settle/release as creditd answers them, recorded in calls."""

    def __init__(self, available_output: int = 10 ** 9) -> None:
        self.calls: List[Dict[str, Any]] = []
        self.available_output = available_output

    def authorize(self, **fields: Any) -> Dict[str, Any]:
        self.calls.append(dict(fields, op="authorize"))
        cap = fields.get("max_output_tokens") or 4096
        if cap > self.available_output:
            floor = fields.get("min_output_tokens")
            if floor is None or floor > self.available_output:
                raise InsufficientCredits(402, {"error": {"code": "insufficient_credits"}})
            cap = self.available_output
        return {"hold_id": "hold_1_%d" % len(self.calls), "amount_micros": 1000, "max_output_tokens": cap}

    def settle(self, hold_id: str, input_tokens: int, output_tokens: int,
               cached_input_tokens: Optional[int] = None,
               cache_write_input_tokens: Optional[int] = None) -> Dict[str, Any]:
        call = {"op": "settle", "hold_id": hold_id, "input_tokens": input_tokens, "output_tokens": output_tokens,
                "cached_input_tokens": cached_input_tokens}
        if cache_write_input_tokens is not None:    # as the client sends it: left out when None
            call["cache_write_input_tokens"] = cache_write_input_tokens
        self.calls.append(call)
        return {"hold_id": hold_id, "charged_micros": 1}

    def release(self, hold_id: str) -> Dict[str, Any]:
        self.calls.append({"op": "release", "hold_id": hold_id})
        return {"hold_id": hold_id, "state": "released"}

    def ends(self) -> List[Dict[str, Any]]:
        return [c for c in self.calls if c["op"] != "authorize"]

    def as_client(self) -> Creditd:
        return cast(Creditd, self)


def ns(**kw: Any) -> Any:
    """An SDK-like object (attributes, not keys)."""
    return SimpleNamespace(**kw)


def openai_chunks(pieces: List[str], usage: Optional[Dict[str, Any]] = None, objects: bool = False) -> List[Any]:
    """Chat Completions chunks: a role-only first chunk, one per piece, then
    (include_usage) a final chunk with no choices and the usage."""
    def make(d: Dict[str, Any]) -> Any:
        if not objects:
            return d
        return ns(**{k: (make(v) if isinstance(v, dict) else [make(x) for x in v] if isinstance(v, list) else v)
                     for k, v in d.items()})
    out = [make({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                                        "content": ""}}],
                 "usage": None})]
    for p in pieces:
        out.append(make({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": p}}],
                         "usage": None}))
    if usage is not None:
        out.append(make({"object": "chat.completion.chunk", "choices": [], "usage": usage}))
    return out


def anthropic_events(pieces: List[str], input_tokens: int = 0, cache_read: int = 0,
                     output_tokens: Optional[int] = None, cache_write: int = 0,
                     delta_usage: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """A Messages stream: message_start (input usage, an early output of 1),
    a text block's deltas, then message_delta with the output usage
    (delta_usage: more members in it, as the API repeats them)."""
    ev: List[Dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_1", "usage": {
            "input_tokens": input_tokens, "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_write, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    for p in pieces:
        ev.append({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})
    ev.append({"type": "content_block_stop", "index": 0})
    if output_tokens is not None:
        ev.append({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                   "usage": dict(delta_usage or {}, output_tokens=output_tokens)})
        ev.append({"type": "message_stop"})
    return ev


class FakeAsyncGuardAPI:
    """FakeGuardAPI awaited: what an AsyncGuard calls, recorded in the same calls list."""

    def __init__(self, available_output: int = 10 ** 9) -> None:
        self.sync = FakeGuardAPI(available_output)
        self.calls = self.sync.calls

    async def authorize(self, **fields: Any) -> Dict[str, Any]:
        return self.sync.authorize(**fields)

    async def settle(self, hold_id: str, input_tokens: int, output_tokens: int,
                     cached_input_tokens: Optional[int] = None,
                     cache_write_input_tokens: Optional[int] = None) -> Dict[str, Any]:
        return self.sync.settle(hold_id, input_tokens, output_tokens, cached_input_tokens, cache_write_input_tokens)

    async def release(self, hold_id: str) -> Dict[str, Any]:
        return self.sync.release(hold_id)

    def ends(self) -> List[Dict[str, Any]]:
        return self.sync.ends()

    def as_client(self) -> AsyncCreditd:
        return cast(AsyncCreditd, self)


async def async_items(items: Iterable[Any], cut_after: Optional[int] = None) -> AsyncIterator[Any]:
    """An async SDK's stream: yields items (the first cut_after of them, then breaks off)."""
    for i, item in enumerate(items):
        if cut_after is not None and i >= cut_after:
            raise ProviderCut("stream cut off")
        yield item
    if cut_after is not None:
        raise ProviderCut("stream cut off")
