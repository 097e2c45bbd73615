"""Scheduling points through `sys.settrace` (Python 3.11).

Why it differs from the monitoring backend: a trace function is per thread and cannot switch
a location off, so it is installed only in controlled worker threads while they run a task,
and it enables opcode events only for frames of instrumented code. Every other call costs one
trip through `_global`, which returns at once.

Pitfalls handled: `frame.f_trace` is assigned before `f_trace_opcodes`; line events
are switched off; an exception raised from a trace function removes the tracer, which is fine
because we raise only to unwind an aborted run, and the tracer is installed afresh per task.
"""

from __future__ import annotations

import sys
import types
from _thread import get_ident
from typing import Any

from harness.runtime.instrument import Instrumentation
from harness.runtime.registry import controlled_threads


class SettraceHooks:
    """Per-thread tracer that turns opcode events at point offsets into scheduler calls."""

    def __init__(self, instrumentation: Instrumentation) -> None:
        self.instrumentation = instrumentation
        table_of = instrumentation.table
        controlled = controlled_threads()

        def tracer_for(table: dict[int, Any]) -> Any:
            # One closure per frame with its point table bound: an opcode event costs one dict
            # lookup, not a table lookup by code object first.
            lookup = table.get

            def local(frame: types.FrameType, event: str, _arg: Any) -> Any:
                if event == "opcode":
                    point = lookup(frame.f_lasti)
                    if point is not None:
                        agent = controlled.get(get_ident())
                        if agent is not None:
                            run = agent.run
                            if run is not None:
                                run.at_point(agent, point, frame)
                return local

            return local

        def global_trace(frame: types.FrameType, event: str, _arg: Any) -> Any:
            if event != "call":
                return None
            table = table_of(frame.f_code)
            if table is None:
                return None
            local = tracer_for(table)
            frame.f_trace = local
            frame.f_trace_lines = False
            frame.f_trace_opcodes = True
            return local

        self._global = global_trace

    def activate(self) -> None:
        """Nothing process-wide to arm: tables are looked up live."""

    def enter_thread(self) -> None:
        sys.settrace(self._global)

    def exit_thread(self) -> None:
        sys.settrace(None)
