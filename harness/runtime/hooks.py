"""Chooses the hook backend for this interpreter and owns the process-wide instrumentation.

3.12+ uses `sys.monitoring` (cheap, per-location DISABLE); 3.11 uses `sys.settrace`. Both read
the same `Instrumentation`, so points, traces and schedules are the same whichever runs.
"""

from __future__ import annotations

import sys
from typing import Protocol

from harness.runtime.instrument import Instrumentation


class Hooks(Protocol):
    instrumentation: Instrumentation

    def activate(self) -> None: ...

    def enter_thread(self) -> None: ...

    def exit_thread(self) -> None: ...


_hooks: Hooks | None = None


def gil_enabled() -> bool:
    """Whether this interpreter runs with a GIL: always before 3.13; on a free-threaded build
    (3.13t) only if ``PYTHON_GIL=1`` or an extension module re-enabled it.

    The controlled engine does not care (one thread runs at a time either way); the stress
    engine does, and every result records it, since a race a GIL build never shows is a
    finding only on the other."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


def backend_name() -> str:
    return "sys.monitoring" if sys.version_info >= (3, 12) else "sys.settrace"


def process_hooks() -> Hooks:
    """The single hook backend of this process (monitoring tool ids are a process resource)."""
    global _hooks
    if _hooks is None:
        instrumentation = Instrumentation()
        if sys.version_info >= (3, 12):
            from harness.runtime.hooks_monitoring import MonitoringHooks

            _hooks = MonitoringHooks(instrumentation)
        else:
            from harness.runtime.hooks_settrace import SettraceHooks

            _hooks = SettraceHooks(instrumentation)
    return _hooks
