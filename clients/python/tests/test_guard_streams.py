"""The guard with provider-shaped answers and streams, whole and cut off midway."""
import unittest
from typing import Any, Dict, List, Optional

import creditd
from creditd import CHARS_PER_TOKEN, guard

from .fakes import FakeGuardAPI, ProviderCut, anthropic_events, cut, ns, openai_chunks

PIECES = ["Hello", ", wor", "ld and the", " rest of it"]
TEXT = "".join(PIECES)


def estimate(pieces: List[str]) -> int:
    return max(len([p for p in pieces if p]), -(-len("".join(pieces)) // CHARS_PER_TOKEN))


class OpenAIStreams(unittest.TestCase):
    def run_cut(self, api: FakeGuardAPI, stream: Any, cap: int = 500) -> List[Any]:
        seen: List[Any] = []
        with self.assertRaises(ProviderCut):
            with guard(api.as_client(), "acct", "req", "gpt-4o", 1000, max_output_tokens=cap) as hold:
                for chunk in hold.openai_stream(stream):
                    seen.append(chunk)
        self.assertTrue(hold.partial or hold.released is not None)
        return seen

    def test_complete_stream_settles_the_final_usage(self) -> None:
        api = FakeGuardAPI()
        usage = {"prompt_tokens": 1010, "completion_tokens": 42, "prompt_tokens_details": {"cached_tokens": 10}}
        for objects in (False, True):
            api.calls.clear()
            chunks = openai_chunks(PIECES, usage, objects=objects)
            with guard(api.as_client(), "acct", "req", "gpt-4o", 1000, max_output_tokens=500) as hold:
                got = list(hold.openai_stream(chunks))
            self.assertEqual(got, chunks, "chunks pass through unchanged")
            self.assertEqual(api.ends(), [{"op": "settle", "hold_id": hold.hold_id, "input_tokens": 1010,
                                           "output_tokens": 42, "cached_input_tokens": 10}])
            self.assertFalse(hold.partial)

    def test_cut_midway_settles_the_estimate_of_the_streamed_text(self) -> None:
        api = FakeGuardAPI()
        chunks = openai_chunks(PIECES, {"prompt_tokens": 1, "completion_tokens": 1})
        seen = self.run_cut(api, cut(chunks, after=1 + len(PIECES)))     # the usage chunk never comes
        self.assertEqual(len(seen), 1 + len(PIECES))
        self.assertEqual(api.ends(), [{"op": "settle", "hold_id": "hold_1_1", "input_tokens": 1000,
                                       "output_tokens": estimate(PIECES), "cached_input_tokens": None}])

    def test_cut_midway_never_settles_beyond_the_hold(self) -> None:
        api = FakeGuardAPI()
        long_pieces = ["x" * 40] * 10                                     # 100 tokens by the estimate
        self.run_cut(api, cut(openai_chunks(long_pieces)), cap=7)
        self.assertEqual(api.ends()[0]["output_tokens"], 7)

    def test_cut_midway_after_a_shrunk_hold_stays_within_it(self) -> None:
        api = FakeGuardAPI(available_output=5)
        with self.assertRaises(ProviderCut):
            with guard(api.as_client(), "acct", "req", "gpt-4o", 1000, max_output_tokens=500,
                       min_output_tokens=2) as hold:
                self.assertEqual(hold.max_output_tokens, 5, "the cap to give the model")
                for _ in hold.openai_stream(cut(openai_chunks(["y" * 400]))):
                    pass
        self.assertEqual(api.ends()[0]["output_tokens"], 5)

    def test_nothing_streamed_is_released(self) -> None:
        api = FakeGuardAPI()
        self.run_cut(api, cut(openai_chunks([]), after=1))               # only the role chunk
        self.assertEqual(api.ends(), [{"op": "release", "hold_id": "hold_1_1"}])

    def test_tool_call_arguments_count_as_output(self) -> None:
        api = FakeGuardAPI()
        chunk = {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": '{"city": "Paris"}'}}]}}]}
        self.run_cut(api, cut([chunk]))
        self.assertEqual(api.ends()[0]["output_tokens"], 5)               # 17 characters

    def test_whole_response_settles_now(self) -> None:
        api = FakeGuardAPI()
        resp = ns(choices=[ns(message=ns(content="hi"))],
                  usage=ns(prompt_tokens=900, completion_tokens=0, prompt_tokens_details=None))
        with guard(api.as_client(), "acct", "req", "gpt-4o", 1000, max_output_tokens=500) as hold:
            settled = hold.openai_response(resp)
        self.assertEqual(settled["charged_micros"], 1)
        # No output but the input was billed: settled, not released.
        self.assertEqual(api.ends(), [{"op": "settle", "hold_id": hold.hold_id, "input_tokens": 900,
                                       "output_tokens": 0, "cached_input_tokens": None}])

    def test_responses_api_events(self) -> None:
        api = FakeGuardAPI()
        events: List[Dict[str, Any]] = [
            {"type": "response.created"},
            {"type": "response.output_text.delta", "delta": "Bonjour"},
            {"type": "response.completed", "response": {"usage": {
                "input_tokens": 50, "output_tokens": 3, "input_tokens_details": {"cached_tokens": 20}}}},
        ]
        with guard(api.as_client(), "acct", "req", "gpt-4o", 60, max_output_tokens=500) as hold:
            list(hold.openai_stream(events))
        self.assertEqual(api.ends()[0], {"op": "settle", "hold_id": hold.hold_id, "input_tokens": 50,
                                         "output_tokens": 3, "cached_input_tokens": 20})


class AnthropicStreams(unittest.TestCase):
    def test_complete_stream_settles_start_input_and_delta_output(self) -> None:
        api = FakeGuardAPI()
        events = anthropic_events(PIECES, input_tokens=700, cache_read=300, output_tokens=25)
        with guard(api.as_client(), "acct", "req", "claude", 1000, max_output_tokens=500) as hold:
            self.assertEqual(list(hold.anthropic_stream(events)), events)
        # creditd's input counts the cache: 700 + 300, of which 300 cached.
        self.assertEqual(api.ends(), [{"op": "settle", "hold_id": hold.hold_id, "input_tokens": 1000,
                                       "output_tokens": 25, "cached_input_tokens": 300}])

    def test_cache_writes_are_sent_as_cache_writes(self) -> None:
        api = FakeGuardAPI()
        events = anthropic_events(PIECES, input_tokens=700, cache_read=300, cache_write=2000, output_tokens=25)
        with guard(api.as_client(), "acct", "req", "claude", 3000, max_output_tokens=500) as hold:
            list(hold.anthropic_stream(events))
        # Input counts the writes too (700 + 300 + 2000); creditd prices the
        # 2000 at the model's cache-write price.
        self.assertEqual(api.ends(), [{"op": "settle", "hold_id": hold.hold_id, "input_tokens": 3000,
                                       "output_tokens": 25, "cached_input_tokens": 300,
                                       "cache_write_input_tokens": 2000}])

    def test_message_delta_replaces_each_member_it_repeats(self) -> None:
        api = FakeGuardAPI()
        # The latest figure of each member stands; one message_delta leaves out stays as it was.
        events = anthropic_events(PIECES, input_tokens=10, cache_read=50, cache_write=100, output_tokens=7,
                                  delta_usage={"input_tokens": 12})
        with guard(api.as_client(), "acct", "req", "claude", 200, max_output_tokens=500) as hold:
            list(hold.anthropic_stream(events))
        self.assertEqual(api.ends()[0], {"op": "settle", "hold_id": hold.hold_id, "input_tokens": 162,
                                         "output_tokens": 7, "cached_input_tokens": 50,
                                         "cache_write_input_tokens": 100})
        api = FakeGuardAPI()
        events = anthropic_events(PIECES, input_tokens=10, cache_read=50, cache_write=100, output_tokens=7,
                                  delta_usage={"input_tokens": 10, "cache_read_input_tokens": 60,
                                               "cache_creation_input_tokens": 90})
        with guard(api.as_client(), "acct", "req", "claude", 200, max_output_tokens=500) as hold:
            list(hold.anthropic_stream(ns(**e) if i == 0 else e for i, e in enumerate(events)))
        self.assertEqual(api.ends()[0], {"op": "settle", "hold_id": hold.hold_id, "input_tokens": 160,
                                         "output_tokens": 7, "cached_input_tokens": 60,
                                         "cache_write_input_tokens": 90})

    def test_cut_before_message_delta_estimates_the_output(self) -> None:
        api = FakeGuardAPI()
        events = anthropic_events(PIECES, input_tokens=640, output_tokens=99)
        with self.assertRaises(ProviderCut):
            with guard(api.as_client(), "acct", "req", "claude", 1000, max_output_tokens=500) as hold:
                for _ in hold.anthropic_stream(cut(events, after=2 + len(PIECES))):
                    pass
        self.assertTrue(hold.partial)
        # The reported input; the early output of 1 in message_start is not the output.
        self.assertEqual(api.ends(), [{"op": "settle", "hold_id": hold.hold_id, "input_tokens": 640,
                                       "output_tokens": estimate(PIECES), "cached_input_tokens": 0}])

    def test_cut_before_message_delta_keeps_message_starts_cache_writes(self) -> None:
        api = FakeGuardAPI()
        events = anthropic_events(PIECES, input_tokens=40, cache_write=600, output_tokens=99)
        with self.assertRaises(ProviderCut):
            with guard(api.as_client(), "acct", "req", "claude", 1000, max_output_tokens=500) as hold:
                for _ in hold.anthropic_stream(cut(events, after=2 + len(PIECES))):
                    pass
        self.assertEqual(api.ends(), [{"op": "settle", "hold_id": hold.hold_id, "input_tokens": 640,
                                       "output_tokens": estimate(PIECES), "cached_input_tokens": 0,
                                       "cache_write_input_tokens": 600}])

    def test_cut_after_message_start_only_is_released(self) -> None:
        api = FakeGuardAPI()
        with self.assertRaises(ProviderCut):
            with guard(api.as_client(), "acct", "req", "claude", 1000, max_output_tokens=500) as hold:
                for _ in hold.anthropic_stream(cut(anthropic_events(PIECES, input_tokens=640), after=2)):
                    pass
        self.assertEqual(api.ends(), [{"op": "release", "hold_id": hold.hold_id}])

    def test_whole_message(self) -> None:
        api = FakeGuardAPI()
        msg = {"content": [{"type": "text", "text": "ok"}],
               "usage": {"input_tokens": 10, "cache_creation_input_tokens": 5, "output_tokens": 2}}
        with guard(api.as_client(), "acct", "req", "claude", 20, max_output_tokens=50) as hold:
            hold.anthropic_response(msg)
        self.assertEqual(api.ends()[0], {"op": "settle", "hold_id": hold.hold_id, "input_tokens": 15,
                                         "output_tokens": 2, "cached_input_tokens": 0,
                                         "cache_write_input_tokens": 5})

    def test_whole_message_cache_writes_are_cache_creation_input_tokens(self) -> None:
        # cache_creation (the 5-minute and 1-hour split) is a breakdown of
        # cache_creation_input_tokens, not more tokens: creditd reads the total.
        usage = {"input_tokens": 8, "cache_read_input_tokens": 2, "cache_creation_input_tokens": 30,
                 "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
                 "output_tokens": 4}
        for message in ({"type": "message", "content": [], "usage": usage},
                        ns(type="message", content=[], usage=ns(**dict(usage, cache_creation=ns(
                            ephemeral_5m_input_tokens=10, ephemeral_1h_input_tokens=20))))):
            api = FakeGuardAPI()
            with guard(api.as_client(), "acct", "req", "claude", 40, max_output_tokens=50) as hold:
                hold.anthropic_response(message)
            self.assertEqual(api.ends()[0], {"op": "settle", "hold_id": hold.hold_id, "input_tokens": 40,
                                             "output_tokens": 4, "cached_input_tokens": 2,
                                             "cache_write_input_tokens": 30})

    def test_anthropic_usage(self) -> None:
        self.assertEqual(creditd.anthropic_usage({"input_tokens": 5, "cache_creation_input_tokens": 7,
                                                  "output_tokens": 3}),
                         {"input_tokens": 12, "cached_input_tokens": 0, "cache_write_input_tokens": 7,
                          "output_tokens": 3})
        self.assertEqual(creditd.anthropic_usage(ns(input_tokens=5, cache_creation_input_tokens=None,
                                                    cache_read_input_tokens=None, output_tokens=None)),
                         {"input_tokens": 5, "cached_input_tokens": 0, "cache_write_input_tokens": 0})
        # Without Anthropic's input_tokens the input is unknown, its cache parts alone are not it.
        self.assertEqual(creditd.anthropic_usage({"cache_creation_input_tokens": 7, "output_tokens": 3}),
                         {"output_tokens": 3})
        self.assertIsNone(creditd.anthropic_usage({}))


class GuardRules(unittest.TestCase):
    def test_an_early_usage_does_not_hide_the_chunks_after_it(self) -> None:
        api = FakeGuardAPI()
        with self.assertRaises(ProviderCut):
            with guard(api.as_client(), "a", "r", "m", 10, max_output_tokens=500) as hold:
                hold.usage(output_tokens=1)
                for _ in hold.stream(cut(["x", "y", "z"])):
                    pass
        self.assertEqual(api.ends()[0]["output_tokens"], 3)

    def test_the_settle_error_is_kept_and_the_block_error_propagates(self) -> None:
        api = FakeGuardAPI()

        def failing_settle(*args: Any, **kw: Any) -> Dict[str, Any]:
            raise creditd.ConnectionFailed("timed out")
        api.settle = failing_settle  # type: ignore[assignment]
        with self.assertRaises(ProviderCut):
            with guard(api.as_client(), "a", "r", "m", 10, max_output_tokens=500) as hold:
                for _ in hold.stream(cut(["abc"])):
                    pass
        self.assertIsInstance(hold.settle_error, creditd.ConnectionFailed)
        self.assertEqual(api.ends(), [], "no release after a settle that was tried")

    def test_code_points_and_invalid_figures(self) -> None:
        api = FakeGuardAPI()
        h = creditd.Guard(api.as_client(), "a", "r", "m", 10)
        h.chunk(b"\xc3\xa9" * 8)
        self.assertEqual(h.produced()["output_tokens"], 2)
        h.usage(input_tokens=-1, cached_input_tokens=50)
        self.assertEqual(h.produced(), {"input_tokens": 10, "output_tokens": 2, "cached_input_tokens": 10,
                                        "cache_write_input_tokens": None})

    def test_cache_writes_reported_are_cut_to_the_uncached_input(self) -> None:
        api = FakeGuardAPI()
        with guard(api.as_client(), "a", "r", "m", 10, max_output_tokens=500) as h:
            h.usage(input_tokens=100, output_tokens=5, cached_input_tokens=30, cache_write_input_tokens=90)
            # creditd refuses cached + cache writes above the input: cut to 100 - 30.
            self.assertEqual(h.produced(), {"input_tokens": 100, "output_tokens": 5, "cached_input_tokens": 30,
                                            "cache_write_input_tokens": 70})
            h.usage(cache_write_input_tokens=-1)
            self.assertEqual(h.produced()["cache_write_input_tokens"], 70, "a negative figure is no figure")
        self.assertEqual(api.ends()[0]["cache_write_input_tokens"], 70)

    def test_a_client_that_predates_cache_writes_settles_calls_without_them(self) -> None:
        class Older(FakeGuardAPI):
            def settle(self, hold_id: str, input_tokens: int, output_tokens: int,  # type: ignore[override]
                       cached_input_tokens: Optional[int] = None) -> Dict[str, Any]:
                return super().settle(hold_id, input_tokens, output_tokens, cached_input_tokens)
        api = Older()
        with guard(api.as_client(), "a", "r", "m", 10, max_output_tokens=500) as h:
            h.openai_response({"usage": {"prompt_tokens": 12, "completion_tokens": 3}})
        self.assertEqual(api.ends(), [{"op": "settle", "hold_id": h.hold_id, "input_tokens": 12,
                                       "output_tokens": 3, "cached_input_tokens": None}])

    def test_an_explicit_settle_passes_cache_writes(self) -> None:
        api = FakeGuardAPI()
        with guard(api.as_client(), "a", "r", "m", 10, max_output_tokens=500) as h:
            h.settle(100, 5, cached_input_tokens=20, cache_write_input_tokens=40)
        self.assertEqual(api.ends(), [{"op": "settle", "hold_id": h.hold_id, "input_tokens": 100,
                                       "output_tokens": 5, "cached_input_tokens": 20,
                                       "cache_write_input_tokens": 40}])


if __name__ == "__main__":
    unittest.main()
