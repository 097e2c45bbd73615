"""The shape of the package, checked from its source with `ast` (nothing is imported).

Why: layering and size limits rot silently. These checks make an import cycle, a runtime
module reaching up into the layers built on it, or a function growing past what can be read
in one screen fail CI the day it is written, instead of being found in a review months later.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "harness"

MAX_FUNCTION_LINES = 60
MAX_CLASS_LINES = 250

# Justified offenders, each with its size in lines (none today). The test fails when an entry
# grows, when a new offender appears, and when an entry no longer exceeds the limit.
ALLOWED_LONG_FUNCTIONS: dict[str, int] = {}
ALLOWED_LONG_CLASSES: dict[str, int] = {}


def module_name(path: Path) -> str:
    """The dotted name of a source file of the package."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, ast.Module]:
    """Every module of the package, parsed, by dotted name."""
    return {
        module_name(path): ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` names, relative imports included."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def module_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports executed when the module is imported.

    Function-local imports are excluded on purpose: they are lazy (run at call time, after
    every module finished importing), which is how a few modules reach a layer above without
    a cycle at import time or a cost for callers that never need it. `if TYPE_CHECKING:`
    blocks are excluded too, since they never run.
    """
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            test = node.test
            if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                stack.extend(node.orelse)
                continue
            stack.extend(node.body + node.orelse)
        elif isinstance(node, ast.Try):
            stack.extend(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                stack.extend(handler.body)
        elif isinstance(node, ast.With):
            stack.extend(node.body)


def imported_modules(module: str, tree: ast.Module, known: set[str], is_package: bool) -> set[str]:
    """The package's modules this one imports at import time.

    ``from harness.x import y`` counts as importing ``harness.x.y`` when that is a module, and
    ``harness.x`` otherwise; importing a submodule also runs its parent packages' ``__init__``.
    """
    found: set[str] = set()
    for node in module_level_imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = resolve(module, is_package, node)
            targets = [base]
            targets += [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            parts = target.split(".")
            for end in range(1, len(parts) + 1):
                prefix = ".".join(parts[:end])
                if prefix in known and prefix != module:
                    found.add(prefix)
    return found


def import_graph() -> dict[str, set[str]]:
    trees = sources()
    known = set(trees)
    packages = {module_name(path) for path in PACKAGE.rglob("__init__.py")}
    return {
        name: imported_modules(name, tree, known, name in packages) for name, tree in trees.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules along it, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for succ in sorted(graph.get(node, ())):
            if state.get(succ) == 1:
                return [*path[path.index(succ) :], succ]
            if succ not in state and (cycle := visit(succ)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def is_parent_package(package: str, module: str) -> bool:
    return module.startswith(package + ".")


def test_no_import_cycle() -> None:
    graph = import_graph()
    # A package's __init__ importing its own submodules is not a cycle in practice: the
    # submodule importing ``harness.x.y`` only needs ``harness.x`` to be in sys.modules.
    graph = {
        name: {dep for dep in deps if not is_parent_package(dep, name)}
        for name, deps in graph.items()
    }
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_find_cycle_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


RUNTIME = "harness.runtime"
# The package itself (whose __init__ any submodule import runs) and the shared error types.
RUNTIME_MAY_IMPORT = {"harness", RUNTIME, "harness.errors"}


def test_runtime_imports_only_itself_and_errors() -> None:
    graph = import_graph()
    outside = {
        f"{name} imports {dep}"
        for name, deps in graph.items()
        if name == RUNTIME or is_parent_package(RUNTIME, name)
        for dep in deps
        if dep not in RUNTIME_MAY_IMPORT and not is_parent_package(RUNTIME, dep)
    }
    assert not outside, sorted(outside)


def definitions() -> Iterator[tuple[str, ast.AST, int]]:
    """Every function and class of the package: qualified name, node, length in lines."""
    for module, tree in sources().items():
        stack: list[tuple[str, ast.AST]] = [(module, tree)]
        while stack:
            prefix, parent = stack.pop()
            for node in ast.iter_child_nodes(parent):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    name = f"{prefix}.{node.name}"
                    assert node.end_lineno is not None
                    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                    yield name, node, node.end_lineno - first + 1
                    stack.append((name, node))
                else:
                    stack.append((prefix, node))


def oversized() -> tuple[dict[str, int], dict[str, int]]:
    functions: dict[str, int] = {}
    classes: dict[str, int] = {}
    for name, node, lines in definitions():
        if isinstance(node, ast.ClassDef):
            if lines > MAX_CLASS_LINES:
                classes[name] = lines
        elif lines > MAX_FUNCTION_LINES:
            functions[name] = lines
    return functions, classes


def check_sizes(found: dict[str, int], allowed: dict[str, int], limit: int) -> list[str]:
    """What is wrong with the found offenders against the allow-list (empty = fine)."""
    problems = [
        f"{name}: {size} lines > {limit}, new"
        for name, size in found.items()
        if name not in allowed
    ]
    problems += [
        f"{name}: grew from {allowed[name]} to {size} lines"
        for name, size in found.items()
        if name in allowed and size > allowed[name]
    ]
    problems += [
        f"{name}: no longer over {limit} lines, remove it from the allow-list"
        for name in allowed
        if name not in found
    ]
    return sorted(problems)


@pytest.mark.parametrize("kind", ["function", "class"])
def test_sizes_within_limits_or_allowed(kind: str) -> None:
    functions, classes = oversized()
    if kind == "function":
        problems = check_sizes(functions, ALLOWED_LONG_FUNCTIONS, MAX_FUNCTION_LINES)
    else:
        problems = check_sizes(classes, ALLOWED_LONG_CLASSES, MAX_CLASS_LINES)
    assert not problems, problems


def test_check_sizes_reports_new_grown_and_stale() -> None:
    problems = check_sizes({"a": 70, "b": 80}, {"b": 75, "c": 65}, 60)
    assert problems == [
        "a: 70 lines > 60, new",
        "b: grew from 75 to 80 lines",
        "c: no longer over 60 lines, remove it from the allow-list",
    ]


#: What `harness hunt` never needs: the other engines, the test writer, the distribution
#: metadata (only --version reads it). Imported at start-up, each costs a cold CLI run time.
NOT_AT_START = (
    "harness.verify",
    "harness.schedule.dfs",
    "harness.stress.engine",
    "harness.emit",
    "harness.html",
)


def test_the_cli_starts_without_the_engines_it_is_not_running() -> None:
    probe = f"import sys, harness.cli; print([m for m in {NOT_AT_START!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_one_class_is_called_preemption() -> None:
    """ "Preemption" means a switch that happened (`harness.runtime.outcome`); a strategy's
    requests are named for what they pin (`ThreadPreemption`, `StepPreemption`)."""
    named = [name for name, node, _ in definitions() if name.rsplit(".", 1)[-1] == "Preemption"]
    assert named == ["harness.runtime.outcome.Preemption"], named
