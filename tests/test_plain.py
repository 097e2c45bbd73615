"""A plain class, no model (`harness.plain`): caught, clean when locked, bad input refused."""

from __future__ import annotations

import collections
import copy
import importlib
import json
import queue
import re
import subprocess
import sys
import typing
import warnings
from pathlib import Path

import cachetools
import pytest
from hypothesis import strategies as st

import harness
from harness import report
from harness.counterexample import load, replay_artifact, save
from harness.errors import UsageError
from harness.linearizability import Replica
from harness.model import ModelSpec
from harness.plain import (
    SELF,
    SMALL_INTS,
    Opaque,
    PlainClassError,
    PlainClassWarning,
    PlainModel,
    ReplayOnly,
    Sequential,
    default_instrument,
    plain_spec,
    settle,
    strategy_for,
)
from harness.runtime import World
from tests.conftest import ROOT, run_cli
from tests.targets.plain_classes import (
    BoundedBuffer,
    Fragile,
    LockedLRU,
    Mailbox,
    NothingPublic,
    Picky,
    Shelf,
)

WRAPPER = ("tests.targets.plain_classes", "cachetools")


@pytest.mark.parametrize(
    # A statistical bar, not every seed: seed 8 finds its first failure at its 100th example of
    # 100, so a hunt a little less lucky misses it. Results do not depend on what the process
    # ran before (`test_plain_hunts_do_not_depend_on_process_history`). The fast run takes
    # seeds 0-7: seed 9 is caught but not minimal at first, and its second search with
    # Hypothesis shrinking runs about 1,000 examples (30 s), which the slow run keeps.
    ("seeds", "allowed"),
    [(8, 2), pytest.param(20, 2, marks=pytest.mark.slow)],
)
def test_cachetools_lru_is_caught_minimal_with_no_model_code(seeds: int, allowed: int) -> None:
    misses = []
    for seed in range(seeds):
        result = harness.hunt_class(cachetools.LRUCache, args=(3,), seed=seed)
        failure = result.failure
        if failure is None or not failure.looks_minimal():
            misses.append((seed, result.kind, failure and failure.describe()))
            continue
        assert failure.kind == "linearizability", failure.describe()
        assert failure.model_ref == "cachetools:LRUCache" and failure.variant == "default"
    assert len(misses) <= allowed, misses


def _model(spec: ModelSpec) -> type[PlainModel]:
    """The plain class's model, typed as such (a spec's `cls` is any Model)."""
    assert issubclass(spec.cls, PlainModel)
    return spec.cls


def _lru_outcome() -> tuple[str, int | None, str | None]:
    result = harness.hunt_class(cachetools.LRUCache, args=(3,), seed=5, shrink=False)
    failure = result.failure
    return result.kind, result.first_example, failure.describe() if failure else None


def test_plain_hunts_do_not_depend_on_process_history() -> None:
    """Same seed, same class -> the same first failing example and counterexample in this
    process, after other hunts (another class; the same class with other options), as in a
    fresh interpreter: machine classes and strategies kept across hunts carry nothing over."""
    # A local module full of constants, which Hypothesis would otherwise draw from
    # (`harness.draws`): before the fix it turned this hunt from caught at example 13 to clean.
    importlib.import_module("harness_gallery.cachetools_spec")
    harness.hunt_class(LockedLRU, args=(2,), instrument=WRAPPER, seed=1, max_examples=20)
    restricted = harness.hunt_class(
        cachetools.LRUCache, args=(3,), methods=["get", "__setitem__"], seed=0, shrink=False
    )
    assert restricted.failure is not None
    called = set(re.findall(r"worker \d+: (\w+)\(", restricted.failure.describe()))
    assert called and called <= {"get", "__setitem__"}, called
    here = _lru_outcome()
    assert here[0] == "counterexample"
    code = "from tests.test_plain import _lru_outcome; print(repr(_lru_outcome()))"
    fresh = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.strip() == repr(here)


def test_locked_wrapper_is_clean_and_its_unlocked_twin_is_caught() -> None:
    locked = harness.hunt_class(LockedLRU, args=(2,), instrument=WRAPPER, seed=1)
    assert locked.kind == "clean", locked.verdict
    assert locked.evidence is not None and locked.evidence.racing_rounds > 0
    unlocked = harness.hunt_class(
        LockedLRU, args=(2,), kwargs={"locked": False}, instrument=WRAPPER
    )
    assert unlocked.failure is not None and unlocked.failure.looks_minimal()


@pytest.mark.slow
def test_locked_wrapper_passes_four_hundred_examples() -> None:
    # 400, not 1,000: every example instruments cachetools as well (about 0.25 s an example
    # on a loaded CI machine), and 1,000 took 248 s of the 300 s timeout.
    result = harness.hunt_class(LockedLRU, args=(2,), instrument=WRAPPER, seed=2, max_examples=400)
    assert result.kind == "clean", result.verdict


def test_counterexample_file_names_the_class_and_replays(tmp_path: Path) -> None:
    result = harness.hunt_class(LockedLRU, args=(2,), kwargs={"locked": False}, instrument=WRAPPER)
    assert result.failure is not None
    path = save(result.failure, tmp_path)
    data = json.loads(path.read_text())
    assert data["model_ref"] == "tests.targets.plain_classes:LockedLRU"
    assert data["model"] == "tests-targets-plain_classes-LockedLRU"
    assert data["params"] == {
        "args": {"__tuple__": [2]},
        "kwargs": {"locked": False},
        "instrument": {"__tuple__": list(WRAPPER)},
    }
    outcome = replay_artifact(load(path))
    assert outcome.reproduced and outcome.identical_trace, outcome.divergence


def test_a_method_outside_the_default_set_replays_by_name() -> None:
    """A file from a hunt with `strategies=` for a method the default model leaves out."""
    spec = plain_spec(Shelf)
    assert "attach" in _model(spec).skipped
    attach = spec.operation("attach")
    assert isinstance(attach, ReplayOnly) and attach.strategy().is_empty
    drawn = plain_spec(Shelf, strategies={"attach.widget": st.just(None)})
    assert not isinstance(drawn.operation("attach"), ReplayOnly)


def test_a_method_whose_arguments_cannot_be_drawn_is_listed_not_dropped(tmp_path: Path) -> None:
    with pytest.warns(PlainClassWarning, match=r"left out 1 method\(s\).*attach.*'widget'"):
        result = harness.hunt_class(Shelf, seed=0, max_examples=10)
    assert result.kind in ("clean", "counterexample"), result.verdict
    done = run_cli(
        "hunt",
        "tests.targets.plain_classes:Shelf",
        "--max-examples",
        "5",
        "--artifacts",
        str(tmp_path),
        cwd=Path.cwd(),
    )
    notes = [line for line in done.stderr.splitlines() if "left out" in line]
    assert len(notes) == 1 and "attach" in notes[0], done.stderr


def test_operations_are_public_methods_with_small_domains() -> None:
    spec = plain_spec(cachetools.LRUCache, args=(3,))
    drawn = [op.name for op in spec.operations if not isinstance(op, ReplayOnly)]
    assert {"__getitem__", "__setitem__", "get", "pop", "clear"} <= set(drawn)
    assert "__init__" not in drawn and "getsizeof" not in drawn  # a staticmethod
    assert spec.cls.instrument == ("cachetools",)
    assert spec.operation("__setitem__").strategies == {"key": SMALL_INTS, "value": SMALL_INTS}
    only = plain_spec(cachetools.LRUCache, methods=["get", "__setitem__"])
    assert [op.name for op in only.operations][:2] == ["get", "__setitem__"]
    picky = plain_spec(Picky)
    assert picky.operation("scaled").strategies == {}  # an argument with a default keeps it
    assert _model(picky).calls["mode"].positional == ("how",)
    override = plain_spec(Picky, strategies={"scaled.factor": st.just(3.0)})
    assert set(override.operation("scaled").strategies) == {"factor"}


def test_type_hints_become_small_strategies() -> None:
    assert strategy_for(int) is SMALL_INTS
    assert strategy_for(typing.Literal["a", "b"]) is not None
    for hint in (
        int,
        str,
        bytes,
        float,
        bool,
        list[int],
        dict[str, int],
        tuple[int, str],
        tuple[int, ...],
        set[int],
        int | None,
        typing.Optional[str],  # noqa: UP045 (the old spelling must work too)
    ):
        strategy = strategy_for(hint)
        assert strategy is not None, hint
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # .example(): one draw is all this test needs
            value = strategy.example()
        if isinstance(value, int) and not isinstance(value, bool):
            assert 0 <= value <= 3
        if isinstance(value, (str, list, dict, set, tuple, bytes)):
            assert len(value) <= 3

    class Unbuildable:
        def __init__(self, x) -> None:  # type: ignore[no-untyped-def]
            self.x = x

    assert strategy_for(Unbuildable) is None
    assert strategy_for(list[Unbuildable]) is None


def test_results_are_settled_for_equality() -> None:
    box: dict[int, int] = {1: 2}
    assert settle(box, box) is SELF
    assert settle(box, box.items()) == [(1, 2)]
    assert settle(box, iter([3, 4])) == [3, 4]
    assert settle(box, object()) == Opaque("object") == settle(box, object())
    assert settle(box, None) is None and settle(box, 5) == 5


def test_results_holding_fresh_objects_or_callables_compare_by_type() -> None:
    """A ``fork()`` returning ``(a fresh object, its bound cancel method)`` (the Backoffer's)
    is the same result from two fresh instances: no false linearizability failure."""

    class Forkable:
        def fork(self) -> tuple[object, object, dict[str, object]]:
            child = Forkable()
            return child, child.fork, {"cancel": lambda: None, "n": [1, object()]}

    one, two = Forkable(), Forkable()
    assert settle(one, one.fork()) == settle(two, two.fork())
    assert settle(one, (1, [2, {"k": 3}])) == (1, [2, {"k": 3}])
    assert settle(one, (1, 2)) != settle(one, (1, 3))


def test_the_default_instrument_is_the_top_level_package() -> None:
    assert default_instrument(cachetools.LRUCache) == ("cachetools",)
    assert default_instrument(LockedLRU) == ("tests",)


def test_constructor_that_raises_is_a_broken_model_naming_the_class() -> None:
    result = harness.hunt_class(Fragile, args=(-1,))
    assert result.kind == "broken-model"
    assert result.broken is not None
    assert "tests-targets-plain_classes-Fragile" in result.broken
    assert "size must be >= 0, got -1" in result.broken


@pytest.mark.parametrize(
    ("target", "options", "message"),
    [
        (3, {}, "needs a class, got 3"),
        (len, {}, "needs a class"),
        (NothingPublic, {}, "has no public method to call"),
        (Fragile, {}, "missing a required argument: 'size'"),
        (Fragile, {"args": (1, 2)}, "too many positional arguments"),
        (Fragile, {"args": 1}, "args must be a tuple"),
        (Fragile, {"args": (1,), "methods": ["shrink"]}, "has no method 'shrink'"),
        (Fragile, {"args": (1,), "methods": ["__repr__"]}, "object protocol"),
        (Fragile, {"args": (1,), "strategies": {"grow": st.none()}}, "must name a method"),
        (Fragile, {"args": (1,), "strategies": {"grow.by": st.none()}}, "no argument 'by'"),
        (Shelf, {"strategies": {"put.count": 3}}, "needs a Hypothesis strategy"),
    ],
)
def test_bad_input_is_a_precise_usage_error(
    target: object, options: dict[str, typing.Any], message: str
) -> None:
    with pytest.raises(PlainClassError, match=message) as caught:
        harness.hunt_class(target, **options)  # type: ignore[arg-type]
    assert isinstance(caught.value, UsageError)
    assert "\n" not in str(caught.value)


def test_command_line_hunts_any_class_with_constructor_arguments(tmp_path: Path) -> None:
    done = run_cli(
        "hunt",
        "cachetools:LRUCache",
        "--arg",
        "maxsize=3",
        "--json",
        "--artifacts",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert result["model"] == "cachetools-LRUCache" and result["kind"] == "counterexample"
    artifact = result["counterexample"]["artifact"]
    # Replay imports only what the user names (the file is untrusted input).
    again = run_cli("replay", artifact, "--model", "cachetools:LRUCache", cwd=tmp_path)
    assert again.returncode == 1 and "the trace is identical" in again.stdout, again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hunt", "cachetools:LRUCache"], "missing a required argument: 'maxsize'"),
        (["hunt", "cachetools:LRUCache", "--arg", "3", "--methods", "nope"], "no method 'nope'"),
        (["hunt", "cachetools:keys"], "cachetools:keys is a module, not a class"),
        (["hunt", "./no_such_spec.py:Model"], "no Python file './no_such_spec.py'"),
        (["hunt", "counter", "--arg", "3"], "plain-class option(s), but 'counter' is a model"),
        (["hunt", "cachetools:LRUCache.fast", "--arg", "3"], "its only variant is 'default'"),
    ],
)
def test_command_line_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = run_cli(*args, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_a_file_path_works_where_a_module_is_expected(tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "tally_spec.py").write_text(
        "class Tally:\n"
        "    def __init__(self):\n"
        "        self.n = 0\n"
        "    def add(self) -> int:\n"
        "        self.n = self.n + 1\n"
        "        return self.n\n"
    )
    done = run_cli("hunt", "./elsewhere/tally_spec.py:Tally", "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    [result] = json.loads(done.stdout)["results"]
    assert result["model"] == "tally_spec-Tally" and result["counterexample"]["threads"] == 2


def test_pytest_fixture_accepts_a_class(tmp_path: Path) -> None:
    (tmp_path / "test_cache.py").write_text(
        "import cachetools\n"
        "from tests.targets.plain_classes import LockedLRU\n\n"
        "def test_lru_is_caught(harness_hunt):\n"
        "    harness_hunt(cachetools.LRUCache, args=(3,), expect='counterexample')\n\n"
        "def test_lru_fails(harness_hunt):\n"
        "    harness_hunt(cachetools.LRUCache, args=(3,))\n\n"
        "def test_locked_is_clean(harness_hunt):\n"
        "    harness_hunt(LockedLRU, args=(2,), instrument=('tests.targets.plain_classes',"
        " 'cachetools'), max_examples=30)\n"
    )
    from tests.test_pytest_plugin import _pytest

    done = _pytest(tmp_path, "test_cache.py")
    assert "1 failed, 2 passed" in done.stdout, done.stdout + done.stderr
    assert "test_lru_fails" in done.stdout and "linearizability" in done.stdout


def test_no_warning_when_every_method_is_drawn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlainClassWarning)
        result = harness.hunt_class(Fragile, args=(1,), max_examples=5)
    assert result.kind in ("clean", "counterexample")


def test_copies_of_the_reference_share_its_locks_but_not_its_state(world: World) -> None:
    """The linearizability search copies the reference at every branch: a locked class must
    copy (not be rebuilt call by call), and a copy must not see the original's later calls."""
    spec = plain_spec(LockedLRU, args=(2,), instrument=WRAPPER)
    with world.virtual_time():
        reference = Sequential(LockedLRU(2), _model(spec).calls)
        assert len(reference.locks) == 1
        reference.put(key=1, value=1)
        twin = copy.deepcopy(reference)
        twin.put(key=2, value=2)
        assert reference.keys() == [1] and twin.keys() == [1, 2]
        assert twin.locks == reference.locks
        held = reference.locks[0]
        held.acquire()
        with pytest.raises(TypeError, match="held between calls"):
            copy.deepcopy(reference)
        held.release()


def test_equal_states_of_a_locked_reference_collapse_into_one(world: World) -> None:
    """The linearizability search keeps one state per distinct reference state: a locked
    class's reference cannot be pickled whole (its lock), so it keys itself with the lock
    written as a name -- equal contents, one key; other contents, another."""
    spec = plain_spec(LockedLRU, args=(2,), instrument=WRAPPER)
    with world.virtual_time():
        one, two = (Sequential(LockedLRU(2), _model(spec).calls) for _ in range(2))
        for reference in (one, two):
            reference.put(key=1, value=1)
        assert Replica(one).key() == Replica(two).key()
        two.put(key=2, value=2)
        assert Replica(one).key() != Replica(two).key()
        assert isinstance(Replica(one).key(), bytes)  # not the fallback, the calls made


def test_calls_that_wait_as_they_would_alone_are_no_deadlock() -> None:
    """`queue.Queue` hunted with every method, the blocking `get` and `join` too: a round in
    which a `get` waits on an empty queue, as it would alone, is no race; the verdict is clean
    and says how many rounds ended that way (before, every such round was a "deadlock")."""
    result = harness.hunt_class(queue.Queue, seed=0, max_examples=60)
    assert result.kind == "clean", report.hunt_text(result)
    assert result.evidence is not None and result.evidence.blocked_rounds > 0
    assert "ended with calls waiting as they would alone" in report.hunt_text(result)


def test_a_lost_wakeup_is_still_a_deadlock() -> None:
    """The taker waits although a put returned after it began: the put should have woken it.
    A waiting call is ordered after every call that returned, so this is no waiting-by-design."""
    fixed = harness.hunt_class(Mailbox, methods=["put", "take"], seed=0, max_examples=60)
    assert fixed.kind == "clean", report.hunt_text(fixed)
    lost = harness.hunt_class(
        Mailbox, kwargs={"lost_wakeup": True}, methods=["put", "take"], seed=0, max_examples=200
    )
    assert lost.failure is not None and lost.failure.kind == "deadlock", report.hunt_text(lost)


def test_a_class_written_in_c_is_not_tested_and_the_reason_says_so() -> None:
    with pytest.warns(PlainClassWarning, match="its signature cannot be read"):
        result = harness.hunt_class(collections.OrderedDict, seed=0, max_examples=20)
    assert result.kind == "not-tested"
    assert "collections.OrderedDict are compiled (C)" in report.hunt_text(result)
    # A class with Python methods is not called compiled.
    assert harness.plain.compiled_note(plain_spec(LockedLRU, args=(2,))) is None


def test_a_missed_notification_is_caught_and_notify_all_is_clean() -> None:
    """The textbook bounded buffer on one condition: `notify()` can wake a waiter of the same
    kind, and then every thread waits while the buffer has a free slot -- a deadlock the
    reference would not reach (its put would not wait). With `notify_all()` every wait is one
    the call would make alone: clean, the rounds that ended so counted."""
    options: dict[str, typing.Any] = {"methods": ["put", "get"], "seed": 1}
    missed = harness.hunt_class(
        BoundedBuffer, kwargs={"notify_all": False}, max_examples=300, **options
    )
    assert missed.failure is not None and missed.failure.kind == "deadlock", missed.verdict
    fixed = harness.hunt_class(BoundedBuffer, max_examples=100, **options)
    assert fixed.kind == "clean", report.hunt_text(fixed)
    assert fixed.evidence is not None and fixed.evidence.blocked_rounds > 0
