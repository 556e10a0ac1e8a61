"""The guard with provider-shaped answers and streams, whole and cut off midway."""
import unittest
from typing import Any, Dict, List

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
                                         "output_tokens": 2, "cached_input_tokens": None})


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
        self.assertEqual(h.produced(), {"input_tokens": 10, "output_tokens": 2, "cached_input_tokens": 10})


if __name__ == "__main__":
    unittest.main()
