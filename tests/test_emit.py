"""The emitted regression test: readable, fails with the interleaving while the bug is there,
survives a harmless refactor, passes once fixed, and says when its schedule no longer applies."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from harness import hunt_class
from harness.artifact import load, save
from harness.emit import comment, regression_test_source
from tests.conftest import run_command

TALLY = """\
class Tally:
    def __init__(self):
        self.n = 0

    def add(self):
        current = self.n
        self.n = current + 1
        return self.n
"""

#: The same code with its local renamed: the same scheduling points, the same bug.
RENAMED = TALLY.replace("current", "before")

#: The fix: the read-modify-write under a lock.
FIXED = """\
import threading


class Tally:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def add(self):
        with self.lock:
            current = self.n
            self.n = current + 1
            return self.n
"""

#: A rewrite in which a worker finishes before the point its recorded switch is pinned to.
SHORTER = """\
class Tally:
    def __init__(self):
        self.n = 0

    def add(self):
        return 0
"""


PYTEST_TARGET = "test_tally_regression.py"


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("tally")
    (folder / "tally_code.py").write_text(TALLY)
    sys.path.insert(0, str(folder))
    try:
        import tally_code  # type: ignore[import-not-found]  # written by the test above

        result = hunt_class(tally_code.Tally, seed=0)
    finally:
        sys.path.remove(str(folder))
    assert result.failure is not None, result.kind
    artifact = load(save(result.failure, folder / "cx"))
    source = regression_test_source(artifact, "tally_code:Tally")
    (folder / "test_tally_regression.py").write_text(source)
    return folder, source


def _pytest(folder: Path, code: str) -> str:
    (folder / "tally_code.py").write_text(code)
    run = run_command(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", PYTEST_TARGET],
        cwd=folder,
    )
    return run.stdout + run.stderr


def test_the_emitted_test_reads_as_a_test(emitted: tuple[Path, str]) -> None:
    _folder, source = emitted
    tree = ast.parse(source)
    names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets}  # type: ignore[attr-defined]
    assert {"MODEL", "VARIANT", "STEPS", "RECORDED"} <= names
    assert "json.loads" not in source and "'trace'" not in source  # no file blob
    assert "{'op': 'add', 'args': {}}" in source  # the scenario as calls
    assert "#   worker 0 read self.n" in source  # the explanation, as a comment
    assert "# worker 0 is preempted at its scheduling point" in source  # the schedule, said
    assert len(source.splitlines()) < 80


def test_it_fails_with_the_interleaving_while_the_bug_is_there(emitted: tuple[Path, str]) -> None:
    folder, _source = emitted
    for code in (TALLY, RENAMED):
        out = _pytest(folder, code)
        assert "1 failed" in out, out
        assert "the recorded failure is still there" in out
        assert "step  worker 0" in out and ">> preempted, worker 1 runs" in out
        assert "assert not True" not in out and "Traceback" not in out


def test_it_passes_once_fixed(emitted: tuple[Path, str]) -> None:
    folder, _source = emitted
    out = _pytest(folder, FIXED)
    assert "1 passed" in out, out


def test_it_says_when_the_schedule_no_longer_applies(emitted: tuple[Path, str]) -> None:
    folder, _source = emitted
    out = _pytest(folder, SHORTER)
    assert "1 skipped" in out, out
    assert "the recorded schedule no longer applies" in out
    assert "worker 0 never reached its scheduling point" in out


@pytest.mark.parametrize(
    "text", ["a\nb", "a\rimport os", "\u2028x", 'end """', "C:\\new\\N", "\x00\x1b[31m"]
)
def test_a_comment_cannot_be_ended_by_what_it_quotes(text: str) -> None:
    lines = comment(text)
    source = "\n".join(lines) + "\nX = 1\n"
    assert all(line.startswith("#") and line.isascii() and line.isprintable() for line in lines)
    assert [type(n).__name__ for n in ast.parse(source).body] == ["Assign"]
