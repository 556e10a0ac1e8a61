"""The guard: authorize before an LLM call, settle what it used after it.

    with credits.guard(user_id, chat_id, "gpt-4o", prompt_tokens, 800) as hold:
        stream = openai.chat.completions.create(
            model="gpt-4o", messages=messages, max_tokens=hold.max_output_tokens, stream=True,
            stream_options={"include_usage": True})
        for chunk in hold.openai_stream(stream):
            send_to_browser(chunk)
    # settled on exit with the provider's final usage, or with what was
    # produced when the stream broke off; released when nothing came

AsyncGuard is the same for the asyncio client (`async with`, `async for`).
This module knows the clients only by the three calls it makes
(GuardClient, AsyncGuardClient): it imports neither client, they import it.
"""
import asyncio
import collections.abc
from typing import (Any, AsyncIterable, AsyncIterator, Callable, Dict, Iterable, Iterator, Optional, Protocol,
                    TypedDict, TypeVar, Union)

from .answers import Hold, Release, Settlement
from .errors import CreditdError

__all__ = ["Guard", "AsyncGuard", "GuardClient", "AsyncGuardClient", "guard", "Produced", "CHARS_PER_TOKEN",
           "openai_usage", "anthropic_usage"]

T = TypeVar("T")

# The fallback estimate of output tokens when the provider sent no usage:
# about 4 characters a token (the usual rule for English text with the
# common BPE tokenizers), and never fewer tokens than non-empty chunks.
CHARS_PER_TOKEN = 4

Usage = Dict[str, int]


class Produced(TypedDict):
    """What a guard would settle: Guard.produced()."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: Optional[int]
    cache_write_input_tokens: Optional[int]


def _get(obj: Any, *path: str) -> Any:
    """obj.a.b or obj["a"]["b"] (provider SDKs answer objects, raw HTTP dicts); None if missing."""
    for name in path:
        if obj is None:
            return None
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return obj


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def openai_usage(usage: Any) -> Optional[Usage]:
    """creditd's figures from an OpenAI usage object (Chat Completions:
    prompt_tokens, completion_tokens, prompt_tokens_details.cached_tokens;
    Responses: input_tokens, output_tokens, input_tokens_details.cached_tokens).
    None when there is none. OpenAI's prompt tokens include the cached ones, as creditd's do."""
    if usage is None:
        return None
    inp = _int(_get(usage, "prompt_tokens"))
    out = _int(_get(usage, "completion_tokens"))
    cached = _int(_get(usage, "prompt_tokens_details", "cached_tokens"))
    if inp is None and out is None:
        inp = _int(_get(usage, "input_tokens"))
        out = _int(_get(usage, "output_tokens"))
        cached = _int(_get(usage, "input_tokens_details", "cached_tokens"))
    figures = {k: v for k, v in (("input_tokens", inp), ("output_tokens", out), ("cached_input_tokens", cached))
               if v is not None}
    return figures or None


# Anthropic's input members: its input_tokens leave out the cache reads and
# the cache writes, which it counts apart.
_ANTHROPIC_INPUT = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _anthropic_parts(usage: Any) -> Usage:
    """The members of an Anthropic usage object that are counts, by name (output_tokens too)."""
    parts: Usage = {}
    for name in _ANTHROPIC_INPUT + ("output_tokens",):
        value = _int(_get(usage, name))
        if value is not None and value >= 0:
            parts[name] = value
    return parts


def _anthropic_figures(parts: Usage) -> Optional[Usage]:
    """creditd's figures from Anthropic's members: the input figures only when
    its input_tokens is known (the cache parts alone are not the input)."""
    figures: Usage = {}
    if "input_tokens" in parts:
        read = parts.get("cache_read_input_tokens", 0)
        written = parts.get("cache_creation_input_tokens", 0)
        figures["input_tokens"] = parts["input_tokens"] + read + written
        figures["cached_input_tokens"] = read
        figures["cache_write_input_tokens"] = written
    if "output_tokens" in parts:
        figures["output_tokens"] = parts["output_tokens"]
    return figures or None


def anthropic_usage(usage: Any) -> Optional[Usage]:
    """creditd's figures from an Anthropic usage object. Anthropic's input_tokens
    leave out the cache: creditd's input_tokens are input_tokens +
    cache_read_input_tokens + cache_creation_input_tokens, its cached ones
    cache_read_input_tokens, its cache writes (charged at the model's
    cache-write price) cache_creation_input_tokens. cache_creation, the
    5-minute and 1-hour split of those writes, is not read: creditd's
    gateway does not read it either. The input figures only come with
    Anthropic's input_tokens. None when there are none."""
    if usage is None:
        return None
    return _anthropic_figures(_anthropic_parts(usage))


class GuardClient(Protocol):
    """What a Guard calls: the sync client's authorize, settle and release."""

    def authorize(self, account: str, request_id: str, *, model: Optional[str] = None,
                  input_tokens: Optional[int] = None, max_output_tokens: Optional[int] = None,
                  action: Optional[str] = None, member: Optional[str] = None, ttl_seconds: Optional[int] = None,
                  byok: Optional[bool] = None, conversation_id: Optional[str] = None,
                  idempotency_key: Optional[str] = None, min_output_tokens: Optional[int] = None) -> Hold: ...

    def settle(self, hold_id: str, input_tokens: int, output_tokens: int,
               cached_input_tokens: Optional[int] = None, *,
               cache_write_input_tokens: Optional[int] = None) -> Settlement: ...

    def release(self, hold_id: str) -> Release: ...


class AsyncGuardClient(Protocol):
    """What an AsyncGuard awaits: the asyncio client's authorize, settle and release."""

    async def authorize(self, account: str, request_id: str, *, model: Optional[str] = None,
                        input_tokens: Optional[int] = None, max_output_tokens: Optional[int] = None,
                        action: Optional[str] = None, member: Optional[str] = None,
                        ttl_seconds: Optional[int] = None, byok: Optional[bool] = None,
                        conversation_id: Optional[str] = None, idempotency_key: Optional[str] = None,
                        min_output_tokens: Optional[int] = None) -> Hold: ...

    async def settle(self, hold_id: str, input_tokens: int, output_tokens: int,
                     cached_input_tokens: Optional[int] = None, *,
                     cache_write_input_tokens: Optional[int] = None) -> Settlement: ...

    async def release(self, hold_id: str) -> Release: ...


class _Tally:
    """What a guarded call produced, and the hold it runs under: the part of
    Guard and AsyncGuard that does no I/O.

    Tell the guard what the call produces as it goes, then either settle
    yourself or let the exit do it:

    - hold.openai_response(resp) / hold.anthropic_response(resp): a whole
      (not streamed) answer: settles now with the usage it reports.
    - hold.openai_stream(stream) / hold.anthropic_stream(stream): wrap the
      provider's stream (yielding its chunks/events unchanged), counting the
      text streamed and taking the usage it reports (OpenAI: the final chunk
      of stream_options={"include_usage": True}; Anthropic: message_start's
      input with its cache reads and writes, message_delta's output and
      any input members it repeats).
    - hold.usage(input_tokens=, output_tokens=, cached_input_tokens=,
      final=False, cache_write_input_tokens=): the provider's reported usage
      (totals so far); it wins over everything below. final=True: the
      call's final figures, settled even when they count no output (the
      input was billed).
    - hold.add_output_tokens(n): output tokens you counted yourself.
    - hold.chunk(text): one streamed piece of output; when neither of the
      above gave output tokens, they are estimated as
      max(chunks, ceil(characters / CHARS_PER_TOKEN)), at most the hold's
      max_output_tokens. Whatever the source, never fewer output tokens
      than non-empty chunks (up to max_output_tokens).
    - hold.stream(chunks, text=, usage=): wraps any stream, calling chunk()
      (and usage()) for each item it yields.

    On exit without a settle: if any output was seen (hold.produced()
    has output_tokens > 0), or the provider's final usage came, the hold is
    settled with the input tokens (reported, else as authorized) and the
    output produced so far, also when the block raised (a stream cut off
    midway): the provider bills those tokens. Only a call that produced
    nothing is released. The block's exception is always re-raised after
    that. A settle that was attempted but failed (say, a timeout after the
    client's retries) is not followed by a release: the tokens were spent, so
    the hold is left for a retried hold.settle() (same figures, same result)
    or for its expiry; when that happens on exit while the block raised, the
    settle's error is kept in settle_error and the block's exception
    propagates.

    Attributes: hold (the authorize answer), hold_id, max_output_tokens (the
    output cap to give the model: the hold's, perhaps shrunk by
    min_output_tokens), settled (the settle answer, or None), released (the
    release answer, or None), settle_error (see above), partial (True when
    the exit settled a call that raised). One guard is one call: do not
    share it between threads or tasks."""

    hold: Optional[Hold]
    hold_id: Optional[str]
    settled: Optional[Settlement]
    released: Optional[Release]
    settle_error: Optional[CreditdError]
    partial: bool

    def __init__(self, account: str, request_id: str, model: str, input_tokens: int,
                 max_output_tokens: Optional[int], authorize_fields: Dict[str, Any]) -> None:
        self._authorize: Dict[str, Any] = dict(account=account, request_id=request_id, model=model,
                                               input_tokens=input_tokens, max_output_tokens=max_output_tokens,
                                               **authorize_fields)
        self.hold = None
        self.hold_id = None
        self.settled = None
        self.released = None
        self.settle_error = None
        self.partial = False
        self._settle_attempted = False
        self._final = False
        self._reported: Usage = {}
        self._anthropic_input: Usage = {}
        self._counted_tokens = 0
        self._chunks = 0
        self._chars = 0

    def _held(self, hold: Hold) -> None:
        self.hold = hold
        self.hold_id = str(hold["hold_id"])

    @property
    def max_output_tokens(self) -> Optional[int]:
        """The output cap to pass to the model (None before the hold)."""
        cap = self.hold.get("max_output_tokens") if self.hold is not None else None
        return cap if isinstance(cap, int) else self._authorize.get("max_output_tokens")

    # -- what the call produced --

    def usage(self, input_tokens: Optional[int] = None, output_tokens: Optional[int] = None,
              cached_input_tokens: Optional[int] = None, final: bool = False,
              cache_write_input_tokens: Optional[int] = None) -> None:
        """The provider's reported usage, totals so far; None fields are left as they were.
        input_tokens counts the cached ones and the cache writes too.
        A negative figure is no figure (creditd would refuse it): it is ignored.
        final=True: these are the call's final figures (settled even with no output)."""
        for name, value in (("input_tokens", input_tokens), ("output_tokens", output_tokens),
                            ("cached_input_tokens", cached_input_tokens),
                            ("cache_write_input_tokens", cache_write_input_tokens)):
            if value is not None and int(value) >= 0:
                self._reported[name] = int(value)
        if final:
            self._final = True

    def _report(self, figures: Usage, final: bool) -> None:
        self.usage(figures.get("input_tokens"), figures.get("output_tokens"), figures.get("cached_input_tokens"),
                   final=final, cache_write_input_tokens=figures.get("cache_write_input_tokens"))

    def add_output_tokens(self, n: int) -> None:
        """Output tokens counted by the caller (added up)."""
        self._counted_tokens += int(n)

    def chunk(self, text: Union[str, bytes, bytearray, None]) -> None:
        """One streamed piece of output (str or bytes); an empty one is not counted.
        Characters are code points: bytes are decoded as UTF-8 (an invalid
        byte counts as one replacement character), as the PHP client counts."""
        if text:
            if isinstance(text, (bytes, bytearray)):
                text = bytes(text).decode("utf-8", "replace")
            self._chunks += 1
            self._chars += len(text)

    def _take_item(self, item: Any, text: Optional[Callable[[Any], Any]],
                   usage: Optional[Callable[[Any], Optional[Dict[str, Any]]]]) -> None:
        if usage is not None:
            reported = usage(item)
            if reported:
                self.usage(**reported)
        self.chunk(item if text is None else text(item))

    # -- provider shapes --

    def _take_openai_answer(self, response: Any) -> None:
        figures = openai_usage(_get(response, "usage"))
        if figures is None:
            for choice in _get(response, "choices") or []:
                self.chunk(_get(choice, "message", "content"))
            self.chunk(_get(response, "output_text"))
        else:
            self._report(figures, final=True)

    def _take_anthropic_answer(self, message: Any) -> None:
        figures = anthropic_usage(_get(message, "usage"))
        if figures is None:
            for block in _get(message, "content") or []:
                self.chunk(_get(block, "text"))
        else:
            self._report(figures, final=True)

    def _take_openai_chunk(self, chunk: Any) -> None:
        kind = _get(chunk, "type")
        if isinstance(kind, str):       # Responses API events
            if kind.endswith(".delta"):
                delta = _get(chunk, "delta")
                self.chunk(delta if isinstance(delta, str) else None)
            elif kind in ("response.completed", "response.incomplete", "response.failed"):
                figures = openai_usage(_get(chunk, "response", "usage"))
                if figures:
                    self._report(figures, final=True)
            return
        for choice in _get(chunk, "choices") or []:     # Chat Completions chunks
            delta = _get(choice, "delta")
            piece = "".join(s for s in (_get(delta, "content"), _get(delta, "refusal")) if isinstance(s, str))
            for call in _get(delta, "tool_calls") or []:
                args = _get(call, "function", "arguments")
                if isinstance(args, str):
                    piece += args
            self.chunk(piece)
        figures = openai_usage(_get(chunk, "usage"))
        if figures:
            self._report(figures, final=True)

    def _take_anthropic_usage(self, usage: Any, start: bool) -> None:
        """message_start's or message_delta's usage. Each input member present
        replaces its figure (message_delta may repeat them: the latest
        stands), as creditd's gateway reads a stream; message_start without
        input_tokens is not read, and its output_tokens is not the output."""
        parts = _anthropic_parts(usage)
        if start and "input_tokens" not in parts:
            return
        self._anthropic_input.update((k, v) for k, v in parts.items() if k in _ANTHROPIC_INPUT)
        seen = dict(self._anthropic_input)
        if not start and "output_tokens" in parts:
            seen["output_tokens"] = parts["output_tokens"]
        figures = _anthropic_figures(seen)
        if figures:
            # message_delta's output_tokens is the final count.
            self._report(figures, final="output_tokens" in figures)

    def _take_anthropic_event(self, event: Any) -> None:
        kind = _get(event, "type")
        if kind == "message_start":
            self._take_anthropic_usage(_get(event, "message", "usage"), start=True)
        elif kind == "content_block_delta":
            delta = _get(event, "delta")
            for field in ("text", "thinking", "partial_json"):
                piece = _get(delta, field)
                if isinstance(piece, str):
                    self.chunk(piece)
                    break
        elif kind == "message_delta":
            self._take_anthropic_usage(_get(event, "usage"), start=False)

    def produced(self) -> Produced:
        """{"input_tokens", "output_tokens", "cached_input_tokens", "cache_write_input_tokens"}: what
        the exit would settle now (the last two None when none was reported)."""
        cap = self.max_output_tokens if self.hold is not None else None
        # Every non-empty chunk carried a token at least (a usage reported
        # early in a stream, as some providers do, may lag behind); the model
        # was told to stop at the cap, so neither the chunks nor an estimate
        # go past it: the settle stays within the hold.
        floor = min(self._chunks, cap) if cap else self._chunks
        out = self._reported.get("output_tokens")
        if out is None and self._counted_tokens > 0:
            out = self._counted_tokens
        if out is None:
            out = max(self._chunks, -(-self._chars // CHARS_PER_TOKEN))
            if cap:
                out = min(out, cap)
        # A reported or counted figure is real tokens: settled as it is,
        # past the cap if so (creditd charges them beyond the hold).
        out = max(out, floor)
        inp = self._reported.get("input_tokens", self._authorize["input_tokens"])
        cached = self._reported.get("cached_input_tokens")
        if cached is not None and cached > inp:     # creditd refuses more cached than input tokens
            cached = inp
        written = self._reported.get("cache_write_input_tokens")
        if written is not None and written > inp - (cached or 0):     # and cache writes past the rest
            written = inp - (cached or 0)
        return {"input_tokens": int(inp), "output_tokens": out, "cached_input_tokens": cached,
                "cache_write_input_tokens": written}

    def _exit_settles(self) -> bool:
        """On exit without a settle: settle (output seen, or final figures) rather than release."""
        return self.produced()["output_tokens"] > 0 or self._final

    def _keep_exit_error(self, error: CreditdError) -> None:
        # The block's own exception matters more; a failed settle stays
        # pending for a retry, a failed release expires anyway.
        self.settle_error = error if self._settle_attempted else None


class Guard(_Tally):
    __doc__ = """Authorizes on enter; on exit settles what was produced, or releases.

    """ + (_Tally.__doc__ or "")

    def __init__(self, client: GuardClient, account: str, request_id: str, model: str, input_tokens: int,
                 max_output_tokens: Optional[int] = None, **authorize_fields: Any) -> None:
        super().__init__(account, request_id, model, input_tokens, max_output_tokens, authorize_fields)
        self.client = client

    def __enter__(self) -> "Guard":
        self._held(self.client.authorize(**self._authorize))
        return self

    def stream(self, chunks: Iterable[T], text: Optional[Callable[[T], Any]] = None,
               usage: Optional[Callable[[T], Optional[Dict[str, Any]]]] = None) -> Iterator[T]:
        """Yields every item of `chunks`, telling the guard about each first.
        text(item): the item's output text (default: the item itself, a str
        or bytes); usage(item): a dict of usage() fields, or None."""
        for item in chunks:
            self._take_item(item, text, usage)
            yield item

    def openai_response(self, response: Any) -> Settlement:
        """Settles now with an OpenAI answer's usage (Chat Completions or Responses API).
        Without a usage in it, the text of its choices is estimated as chunks are."""
        self._take_openai_answer(response)
        return self._settle_produced()

    def anthropic_response(self, message: Any) -> Settlement:
        """Settles now with an Anthropic Messages answer's usage."""
        self._take_anthropic_answer(message)
        return self._settle_produced()

    def openai_stream(self, stream: Iterable[T]) -> Iterator[T]:
        """Yields the chunks of an OpenAI stream unchanged, counting their text
        (content, refusal, tool call arguments) and taking the usage of the
        final chunk: ask for it with stream_options={"include_usage": True}.
        Responses API events work too (output text deltas, response.completed)."""
        for chunk in stream:
            self._take_openai_chunk(chunk)
            yield chunk

    def anthropic_stream(self, stream: Iterable[T]) -> Iterator[T]:
        """Yields the events of an Anthropic Messages stream unchanged, counting
        the text of content_block_delta events (text, thinking, tool input)
        and taking message_start's input usage (cache reads and writes
        included) and message_delta's output usage (message_start's early
        output count is not used: it lags)."""
        for event in stream:
            self._take_anthropic_event(event)
            yield event

    def settle(self, input_tokens: int, output_tokens: int, cached_input_tokens: Optional[int] = None,
               cache_write_input_tokens: Optional[int] = None) -> Settlement:
        """Charges the tokens the call really used (input_tokens counts the cached ones and
        the cache writes too); the rest of the hold is released."""
        if self.hold_id is None:
            raise RuntimeError("settle() outside the with block")
        self._settle_attempted = True
        # None or 0 is not sent: a GuardClient, or a creditd, that predates
        # cache writes still works.
        if not cache_write_input_tokens:
            self.settled = self.client.settle(self.hold_id, input_tokens, output_tokens,
                                              cached_input_tokens=cached_input_tokens)
        else:
            self.settled = self.client.settle(self.hold_id, input_tokens, output_tokens,
                                              cached_input_tokens=cached_input_tokens,
                                              cache_write_input_tokens=cache_write_input_tokens)
        return self.settled

    def _settle_produced(self) -> Settlement:
        made = self.produced()
        return self.settle(made["input_tokens"], made["output_tokens"], made["cached_input_tokens"],
                           made["cache_write_input_tokens"])

    def __exit__(self, exc_type: Optional[type], exc: Optional[BaseException], tb: Any) -> None:
        if self.hold_id is None or self._settle_attempted:
            return
        try:
            if self._exit_settles():
                self.partial = exc_type is not None
                self._settle_produced()
            else:
                self.released = self.client.release(self.hold_id)
        except CreditdError as e:
            if exc_type is None:
                raise
            self._keep_exit_error(e)


async def _to_its_end(call: "asyncio.Future[None]") -> Optional[asyncio.CancelledError]:
    """Waits for call to end, through any cancellation of the waiting task
    (asyncio.shield, awaited again after each); returns the last such
    cancellation, for the caller to raise once call has ended. Leaves call's
    own outcome in call."""
    cancelled: Optional[asyncio.CancelledError] = None
    while not call.done():
        try:
            await asyncio.shield(call)
        except asyncio.CancelledError as e:
            if call.cancelled():        # call itself was cancelled (the loop shutting down): give up
                raise
            cancelled = e
        except BaseException:           # call's own error: the caller reads it from call
            pass
    return cancelled


async def _each(items: Union[Iterable[T], AsyncIterable[T]]) -> AsyncIterator[T]:
    """An async iterator over a sync or an async iterable."""
    if isinstance(items, collections.abc.AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


class AsyncGuard(_Tally):
    __doc__ = """Guard for the asyncio client: authorizes on `async with` enter; on
    exit settles what was produced, or releases. Its stream wrappers take an
    async iterable (an async SDK's stream) or a plain one, and are used with
    `async for`; settle(), openai_response() and anthropic_response() are
    awaited. The exit's settle or release is shielded from cancellation: a
    task cancelled while its guard exits (again, or by a timeout) awaits it
    to its end, then raises the cancellation, so the hold is never left
    pending by it.

    """ + (_Tally.__doc__ or "")

    def __init__(self, client: AsyncGuardClient, account: str, request_id: str, model: str, input_tokens: int,
                 max_output_tokens: Optional[int] = None, **authorize_fields: Any) -> None:
        super().__init__(account, request_id, model, input_tokens, max_output_tokens, authorize_fields)
        self.client = client

    async def __aenter__(self) -> "AsyncGuard":
        self._held(await self.client.authorize(**self._authorize))
        return self

    async def stream(self, chunks: Union[Iterable[T], AsyncIterable[T]], text: Optional[Callable[[T], Any]] = None,
                     usage: Optional[Callable[[T], Optional[Dict[str, Any]]]] = None) -> AsyncIterator[T]:
        """As Guard.stream, for `async for`."""
        async for item in _each(chunks):
            self._take_item(item, text, usage)
            yield item

    async def openai_response(self, response: Any) -> Settlement:
        """As Guard.openai_response."""
        self._take_openai_answer(response)
        return await self._settle_produced()

    async def anthropic_response(self, message: Any) -> Settlement:
        """As Guard.anthropic_response."""
        self._take_anthropic_answer(message)
        return await self._settle_produced()

    async def openai_stream(self, stream: Union[Iterable[T], AsyncIterable[T]]) -> AsyncIterator[T]:
        """As Guard.openai_stream, for `async for`."""
        async for chunk in _each(stream):
            self._take_openai_chunk(chunk)
            yield chunk

    async def anthropic_stream(self, stream: Union[Iterable[T], AsyncIterable[T]]) -> AsyncIterator[T]:
        """As Guard.anthropic_stream, for `async for`."""
        async for event in _each(stream):
            self._take_anthropic_event(event)
            yield event

    async def settle(self, input_tokens: int, output_tokens: int, cached_input_tokens: Optional[int] = None,
                     cache_write_input_tokens: Optional[int] = None) -> Settlement:
        """As Guard.settle."""
        if self.hold_id is None:
            raise RuntimeError("settle() outside the async with block")
        self._settle_attempted = True
        if not cache_write_input_tokens:    # as Guard.settle
            self.settled = await self.client.settle(self.hold_id, input_tokens, output_tokens,
                                                    cached_input_tokens=cached_input_tokens)
        else:
            self.settled = await self.client.settle(self.hold_id, input_tokens, output_tokens,
                                                    cached_input_tokens=cached_input_tokens,
                                                    cache_write_input_tokens=cache_write_input_tokens)
        return self.settled

    async def _settle_produced(self) -> Settlement:
        made = self.produced()
        return await self.settle(made["input_tokens"], made["output_tokens"], made["cached_input_tokens"],
                                 made["cache_write_input_tokens"])

    async def _exit_call(self, failed: bool) -> None:
        if self._exit_settles():
            self.partial = failed
            await self._settle_produced()
        else:
            assert self.hold_id is not None
            self.released = await self.client.release(self.hold_id)

    async def __aexit__(self, exc_type: Optional[type], exc: Optional[BaseException], tb: Any) -> None:
        """Settles or releases as the class says. That call is shielded from
        cancellation: a task cancelled while its guard exits (the first
        cancellation ended the block, a second one, or a timeout, comes
        during the settle) still awaits the settle or release to its end,
        bounded by the client's timeout_ms and retries, then raises the
        cancellation; otherwise the hold would stay pending, its tokens
        unbilled until it expires."""
        if self.hold_id is None or self._settle_attempted:
            return
        call = asyncio.ensure_future(self._exit_call(exc_type is not None))
        cancelled = await _to_its_end(call)
        try:
            call.result()
        except CreditdError as e:
            if exc_type is None and cancelled is None:
                raise
            self._keep_exit_error(e)
        if cancelled is not None:
            raise cancelled


def guard(client: GuardClient, account: str, request_id: str, model: str, input_tokens: int,
          max_output_tokens: Optional[int] = None, **authorize_fields: Any) -> Guard:
    """with guard(client, account, request_id, model, input_tokens[, max_output_tokens]) as hold: ...

    authorize_fields: member, ttl_seconds, conversation_id, byok,
    min_output_tokens. Give the model hold.max_output_tokens as its output
    cap. Call hold.settle(input_tokens, output_tokens[, cached_input_tokens,
    cache_write_input_tokens])
    or hold.openai_response()/anthropic_response() inside the block, or
    report what the call produces (hold.openai_stream(),
    hold.anthropic_stream(), hold.usage(), hold.chunk(), hold.stream(),
    hold.add_output_tokens()) and let the exit settle it. When the block
    ends (or raises) with no settle and no output seen, the hold is
    released; with output seen, it is settled with what was produced.
    The asyncio client's counterpart: `async with client.guard(...)`."""
    return Guard(client, account, request_id, model, input_tokens, max_output_tokens, **authorize_fields)
