"""Scheduling points through `sys.monitoring` (Python 3.12+).

Why this backend: ``INSTRUCTION`` events can be enabled per code object, and a callback that
returns ``DISABLE`` switches its location off for good. So only instrumented code pays, and
within it only the scheduling points keep costing a callback after their first hit.

How: a global ``PY_START`` event notices each code object once. Instrumented ones get local
``INSTRUCTION`` events; every code object then has ``PY_START`` disabled. Callbacks fire in
every thread, so the dispatcher looks the thread up in the controlled-thread registry and
ignores the rest (at a point it returns None, never DISABLE: the location is still a point
for the threads we do control).
"""

from __future__ import annotations

import sys
import types
from _thread import get_ident
from typing import Any

from harness.runtime.instrument import Instrumentation
from harness.runtime.registry import controlled_threads

_TOOL_NAME = "harness"
_PREFERRED_IDS = (4, 3, 2, 0)


class MonitoringHooks:
    """Installs the `sys.monitoring` callbacks once per process and re-arms them on change."""

    def __init__(self, instrumentation: Instrumentation) -> None:
        self.instrumentation = instrumentation
        self.tool_id: int | None = None
        self._seen_generation = -1

    def _claim_tool_id(self) -> int:
        monitoring: Any = sys.monitoring  # type: ignore[attr-defined]
        for tool in _PREFERRED_IDS:
            if monitoring.get_tool(tool) is None:
                monitoring.use_tool_id(tool, _TOOL_NAME)
                return tool
        raise RuntimeError("no free sys.monitoring tool id for the harness (ids 0, 2, 3, 4 taken)")

    def activate(self) -> None:
        """Make sure the hooks are live for the current instrumentation."""
        monitoring: Any = sys.monitoring  # type: ignore[attr-defined]
        if self.tool_id is None:
            self.tool_id = self._claim_tool_id()
            events = monitoring.events
            instr = self.instrumentation
            disable = monitoring.DISABLE
            set_local = monitoring.set_local_events
            tool = self.tool_id
            table_of = instr.table

            def on_start(code: types.CodeType, _offset: int) -> Any:
                if table_of(code) is not None:
                    set_local(tool, code, events.INSTRUCTION)
                return disable

            # The hot path: no calls but the table lookup and, at a point, the run's. The
            # frame is fetched only where the trace captures values (`at_point` does it).
            tables = instr.tables_by_id
            controlled = controlled_threads()

            def on_instruction(code: types.CodeType, offset: int) -> Any:
                try:
                    table = tables[id(code)]
                except KeyError:  # cleared by a change of instrumentation since PY_START
                    table = table_of(code)
                point = table.get(offset) if table is not None else None
                if point is None:
                    return disable
                agent = controlled.get(get_ident())
                if agent is not None:
                    run = agent.run
                    if run is not None:
                        run.at_point(agent, point, None)
                return None

            monitoring.register_callback(tool, events.PY_START, on_start)
            monitoring.register_callback(tool, events.INSTRUCTION, on_instruction)
            monitoring.set_events(tool, events.PY_START)
            self._seen_generation = self.instrumentation.generation
        elif self._seen_generation != self.instrumentation.generation:
            # New files or granularity: locations switched off under the old tables may be
            # points now, and code seen before may now be instrumented.
            monitoring.restart_events()
            self._seen_generation = self.instrumentation.generation

    def enter_thread(self) -> None:
        """Nothing to do per thread: monitoring is process-wide."""

    def exit_thread(self) -> None:
        """Nothing to undo per thread."""
