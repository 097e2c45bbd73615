"""Bad input gets one precise exception, raised before any thread starts."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from harness.errors import (
    NotCallableWorkerError,
    NoWorkersError,
    ScheduleError,
    UnknownGranularityError,
    UnknownModuleError,
    UsageError,
)
from harness.runtime import Executor
from harness.schedule import PreemptionSchedule
from tests.conftest import COUNTERS
from tests.targets.counters import Counter


@pytest.mark.parametrize(
    ("workers", "options", "error", "message"),
    [
        ([Counter().incr, 42], {}, NotCallableWorkerError, "worker 1 is not callable"),
        ("incr", {}, NotCallableWorkerError, "sequence of callables"),
        ([], {}, NoWorkersError, "at least one worker"),
        ([Counter().incr], {"granularity": "line"}, UnknownGranularityError, "'line'"),
        ([Counter().incr], {"modules": ["no.such.module"]}, UnknownModuleError, "no.such.module"),
        (
            [Counter().incr],
            {"modules": ["threading"]},
            UnknownModuleError,
            "cannot be instrumented",
        ),
        ([Counter().incr], {"modules": ["sys"]}, UnknownModuleError, "'sys'"),
        ([Counter().incr], {"max_steps": 0}, UsageError, "max_steps"),
        ([Counter().incr], {"stuck_after": -1}, UsageError, "stuck_after"),
    ],
)
def test_bad_input_is_rejected_before_threads_start(
    workers: Any, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    before = threading.active_count()
    with Executor() as ex, pytest.raises(error, match=message):
        ex.run(workers, PreemptionSchedule(), **options)
    assert threading.active_count() == before


def test_a_module_name_is_checked_even_when_the_package_exists() -> None:
    with Executor() as ex, pytest.raises(UnknownModuleError, match=r"tests\.targets\.nope"):
        ex.run([Counter().incr], PreemptionSchedule(), modules=["tests.targets.nope"])


def test_not_a_decision_source() -> None:
    with Executor() as ex, pytest.raises(UsageError, match="not a decision source"):
        ex.run([Counter().incr], object())  # type: ignore[arg-type]


class _Wrong:
    def reset(self) -> None:
        pass

    def choose(self, step: int, current: int | None, runnable: tuple[int, ...]) -> int:
        return 7


def test_decision_source_choosing_a_missing_thread() -> None:
    with Executor() as ex, pytest.raises(ScheduleError, match="thread 7"):
        ex.run([Counter().incr, Counter().incr], _Wrong(), modules=COUNTERS)


def test_usage_errors_are_value_errors_for_callers_that_catch_broadly() -> None:
    assert issubclass(UnknownGranularityError, ValueError)
    assert issubclass(NotCallableWorkerError, TypeError)
    assert issubclass(UnknownModuleError, ModuleNotFoundError)
