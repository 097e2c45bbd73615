"""pytest-run-parallel's side of bench_peers.py: real threads, stress, under pytest.

    <runparallel-venv>/bin/python bench/peer_runparallel.py OPTIONS_JSON

pytest-run-parallel 0.10.0 runs each test function on N threads at once (released by a
barrier, `--parallel-threads=N`), handing every thread the same fixture values, and sets
``sys.setswitchinterval(1e-6)`` for the duration itself. So a function-scoped fixture is one
Backoffer shared by the N threads of one test call; its teardown, after the threads joined,
applies the lost-update check every tool uses and records the detection. One parametrized
case = one run; the session stops once the time budget is spent. This is what a user of that
plugin would write to stress the Backoffer: the real-thread baseline, no scheduler involved.

Imports nothing of the harness. Prints one ``PEER-JSON`` line (see `common.emit_peer_json`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from common import emit_peer_json

BENCH = Path(__file__).resolve().parent

CASE = textwrap.dedent(
    '''
    """Written by bench/peer_runparallel.py: one Backoffer per test call, shared by its threads."""
    import json
    import os
    import sys
    import time

    import pytest

    sys.path.insert(0, os.environ["BENCH_DIR"])
    from backoffer_scenario import calls_of, make_backoffer, shows_lost_update

    from harness_gallery.backoffer import UnsafeBackoffer

    THREADS = int(os.environ["BENCH_THREADS"])
    CALLS = int(os.environ["BENCH_CALLS"])
    BUDGET = float(os.environ["BENCH_SECONDS"])
    STATE = {"start": None, "runs": 0, "found_at": [], "switch": []}
    WORK = calls_of(CALLS)


    @pytest.fixture
    def bo(request):
        now = time.perf_counter()
        if STATE["start"] is None:
            STATE["start"] = now
        elif now - STATE["start"] > BUDGET:
            request.session.shouldstop = "time budget spent"
        shared = make_backoffer(UnsafeBackoffer)
        yield shared
        STATE["runs"] += 1
        if shows_lost_update(shared, THREADS * CALLS):
            STATE["found_at"].append(time.perf_counter() - STATE["start"])


    @pytest.mark.parametrize("rep", range(int(os.environ["BENCH_CASES"])))
    def test_backoff(bo, rep):
        if not STATE["switch"]:
            STATE["switch"].append(sys.getswitchinterval())
        WORK(bo)


    def teardown_module():
        STATE["seconds"] = time.perf_counter() - STATE["start"]
        with open(os.environ["BENCH_OUT"], "w") as out:
            json.dump(STATE, out)
    '''
).lstrip()


def cell(threads: int, calls: int, seconds: float, cases: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-runparallel-") as tmp:
        case = Path(tmp) / "runparallel_case.py"
        case.write_text(CASE)
        (Path(tmp) / "pytest.ini").write_text("[pytest]\n")
        out = Path(tmp) / "out.json"
        os.environ.update(
            BENCH_DIR=str(BENCH),
            BENCH_THREADS=str(threads),
            BENCH_CALLS=str(calls),
            BENCH_SECONDS=str(seconds),
            BENCH_CASES=str(cases),
            BENCH_OUT=str(out),
        )
        t0 = time.perf_counter()
        code = pytest.main(
            [
                str(case),
                "-q",
                "-p",
                "no:cacheprovider",
                # The repository root is on sys.path (for `models`), and with it the harness's
                # own egg-info: keep its pytest plugin out of the peer's run.
                "-p",
                "no:harness",
                f"--rootdir={tmp}",
                f"-c={tmp}/pytest.ini",
                f"--parallel-threads={threads}",
                "--iterations=1",
            ]
        )
        wall = time.perf_counter() - t0
        state = json.loads(out.read_text())
        sys.modules.pop("runparallel_case", None)
    found_at = state["found_at"]
    return {
        "threads": threads,
        "calls": calls,
        "pytest_exit": int(code),
        "runs": state["runs"],
        "found": len(found_at),
        "share": len(found_at) / state["runs"] if state["runs"] else None,
        "runs_per_s": state["runs"] / state["seconds"] if state["seconds"] else None,
        "seconds": state["seconds"],
        "wall_seconds": wall,
        "switch_interval": state["switch"][0] if state["switch"] else None,
        "found_at": found_at,
        "loadavg": list(os.getloadavg()),
    }


def main() -> None:
    opts = json.loads(sys.argv[1])
    out: dict[str, Any] = {
        "version": version("pytest-run-parallel"),
        "pytest": pytest.__version__,
        "python": sys.version.split()[0],
        "cells": [
            cell(threads, calls, opts["seconds"], opts["cases"])
            for threads, calls in opts["scenarios"]
        ],
    }
    emit_peer_json(out)


if __name__ == "__main__":
    main()
