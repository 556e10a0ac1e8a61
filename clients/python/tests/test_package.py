"""The package's shape: no import circle between its modules, an asyncio
client with every call of the sync one, and typed answers from both."""
import ast
import inspect
import os
import typing
import unittest
from typing import Any, Dict, List, Set

import creditd
from creditd import AsyncCreditd, Creditd

PACKAGE = os.path.dirname(os.path.abspath(creditd.__file__))
NOT_CALLS = {"close", "request", "guard"}      # the transport and the guard helper: no answer of a route


def imports_of(path: str) -> Set[str]:
    """The package's modules a module imports, wherever the import stands
    (at the top, in a function, under TYPE_CHECKING)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("creditd."):
            found.add((node.module or "").split(".")[1])
    return found


def public_calls(cls: type) -> Dict[str, Any]:
    return {name: fn for name, fn in vars(cls).items()
            if not name.startswith("_") and callable(fn) and name not in NOT_CALLS}


class Modules(unittest.TestCase):
    def test_no_import_circle(self) -> None:
        graph = {name[:-3]: imports_of(os.path.join(PACKAGE, name))
                 for name in os.listdir(PACKAGE) if name.endswith(".py")}
        graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
        self.assertIn("guard", graph["client"])
        done: Set[str] = set()

        def visit(module: str, path: List[str]) -> None:
            if module in path:
                self.fail("import circle: %s" % " -> ".join(path[path.index(module):] + [module]))
            if module in done:
                return
            for dep in sorted(graph[module]):
                visit(dep, path + [module])
            done.add(module)
        for module in sorted(graph):
            visit(module, [])


class AsyncMirror(unittest.TestCase):
    def test_every_call_of_the_sync_client_is_awaitable_alike(self) -> None:
        sync, aio = public_calls(Creditd), public_calls(AsyncCreditd)
        self.assertEqual(sorted(sync), sorted(aio))
        for name, fn in sync.items():
            a = aio[name]
            self.assertEqual(list(inspect.signature(fn).parameters.values()),
                             list(inspect.signature(a).parameters.values()), name)
            if name.startswith("iter_"):
                self.assertTrue(inspect.isasyncgenfunction(a), name)
            else:
                self.assertTrue(inspect.iscoroutinefunction(a), name)


class TypedAnswers(unittest.TestCase):
    def test_every_call_answers_a_typed_dict(self) -> None:
        for cls in (Creditd, AsyncCreditd):
            for name, fn in public_calls(cls).items():
                answer = typing.get_type_hints(fn)["return"]
                if typing.get_origin(answer) is not None:       # Iterator[Event], AsyncIterator[Transaction]
                    answer = typing.get_args(answer)[0]
                self.assertTrue(isinstance(answer, type) and issubclass(answer, dict)
                                and hasattr(answer, "__annotations__") and answer.__annotations__,
                                "%s.%s answers %r" % (cls.__name__, name, answer))


if __name__ == "__main__":
    unittest.main()
