#!/usr/bin/env python
"""Throughput and per-call overhead of the controlled runtime, on the running interpreter.

Run from the repository root (no installation needed):

    python bench/bench_runtime.py [--seconds S] [--json PATH] [--cpu N] [--no-pinned-pass]
    python bench/bench_runtime.py --profile {none,gil,access,opcode}

What is measured (all with `tests.targets.counters.DictCounter.incr` as the code under test):

1. Runs per second: T threads x C calls of ``incr`` each, one `Executor.run` per run with a
   fresh `RandomSchedule(seed)` (new seed every run) and a fresh `DictCounter`, at each
   granularity (gil, access, opcode), for the scenarios 2x1, 2x3, 3x2, 4x2. Two passes: the
   OS placing the threads, then every thread pinned to one CPU (one thread runs at a time,
   so this loses nothing and removes cross-CPU wake-ups from every hand-off).
2. Per-call overhead: one thread calling ``incr`` N times inside a controlled run, minus the
   same run with N = 0 (the run's fixed cost), divided by N; compared with the same loop
   called plainly on the main thread before any hook was ever armed. Also with
   ``capture_values=False``, and the plain call on the main thread while hooks are armed.
3. Baseline: the same runs with ``modules=()`` (nothing instrumented, no scheduling point,
   only the hand-offs when a thread finishes), i.e. the fixed cost of a run.

Clock and World policy: `World` makes `time.perf_counter` virtual for the thread that
entered it, so this module binds `perf_counter` at import time (the real clock) and enters
ONE World per measurement cell (a batch of runs), as a test that runs many schedules of one
example would. The cost of entering and leaving a World is measured on its own and reported,
so a reader can add it to every run if a World per run is what they need.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from time import perf_counter  # bound before any World is entered: always the real clock
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from harness.runtime import GRANULARITIES, Executor, World  # noqa: E402
from harness.runtime.hooks import backend_name  # noqa: E402
from harness.schedule import RandomSchedule  # noqa: E402
from tests.targets.counters import DictCounter  # noqa: E402

TARGET_MODULE = "tests.targets.counters"
SCENARIOS: tuple[tuple[int, int], ...] = ((2, 1), (2, 3), (3, 2), (4, 2))
PER_CALL_N = 2000
NONE = "none"  # pseudo-granularity: modules=() (nothing instrumented)
MIN_RUNS = 5
SLICES = 5
MAX_STEPS = 1_000_000
WARMUP_SECONDS = 0.1

_seed = 0


def next_seed() -> int:
    """A new seed for every run of the whole benchmark."""
    global _seed
    _seed += 1
    return _seed


def run_options(granularity: str) -> dict[str, Any]:
    if granularity == NONE:
        # The granularity is irrelevant when nothing is instrumented; it must only be valid.
        return {"granularity": "gil", "modules": ()}
    return {"granularity": granularity, "modules": [TARGET_MODULE]}


def calling_loop(obj: DictCounter, calls: int) -> Callable[[], None]:
    """The worker body: `calls` plain calls of ``obj.incr`` (this module is not instrumented)."""
    incr = obj.incr

    def work() -> None:
        for _ in range(calls):
            incr()

    return work


class Problems:
    """Anything that looked wrong: runs not ok, exceptions, counts that cannot be."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        if sum(1 for p in self.items if p.startswith(where)) < 3:  # a few per cell is enough
            self.items.append(f"{where}: {what}")


# -- 1 and 3: runs per second ------------------------------------------------------------------


def measure_throughput(
    ex: Executor,
    threads: int,
    calls: int,
    granularity: str,
    seconds: float,
    problems: Problems,
) -> dict[str, Any]:
    where = f"{threads}x{calls} {granularity}"
    options = run_options(granularity)
    expected = threads * calls

    def one_run() -> tuple[bool, int, int]:
        obj = DictCounter()
        work = calling_loop(obj, calls)
        result = ex.run([work] * threads, RandomSchedule(next_seed()), **options)
        if not result.ok:
            problems.add(where, f"run not ok: {result.describe()[:500]}")
        total = obj.d.get("k", 0)
        if not 1 <= total <= expected:
            problems.add(where, f"counter is {total}, expected 1..{expected}")
        if granularity == NONE and total != expected:
            problems.add(where, f"lost update without any scheduling point ({total})")
        return result.ok, result.steps, total

    cell: dict[str, Any] = {
        "threads": threads,
        "calls": calls,
        "granularity": granularity,
    }
    gc.collect()
    rates: list[float] = []
    runs = not_ok = steps = lost = 0
    elapsed = 0.0
    try:
        start = perf_counter()
        while perf_counter() - start < WARMUP_SECONDS:
            one_run()
        # SLICES equal slices, each timed on its own: the median slice rate resists the noise
        # of other processes on a small machine better than one long average.
        for _ in range(SLICES):
            slice_runs = 0
            start = perf_counter()
            took = 0.0
            while took < seconds / SLICES or slice_runs < MIN_RUNS:
                ok, n_steps, total = one_run()
                slice_runs += 1
                not_ok += not ok
                steps += n_steps
                lost += total < expected
                took = perf_counter() - start
            runs += slice_runs
            elapsed += took
            rates.append(slice_runs / took)
    except Exception as exc:
        problems.add(where, f"exception: {exc!r}")
        cell["error"] = repr(exc)
        return cell
    cell.update(
        runs=runs,
        seconds=elapsed,
        runs_per_s=statistics.median(rates),
        runs_per_s_mean=runs / elapsed,
        runs_per_s_min=min(rates),
        runs_per_s_max=max(rates),
        us_per_run=1e6 / statistics.median(rates),
        steps_per_run=steps / runs,
        lost_update_share=lost / runs,
        not_ok=not_ok,
    )
    return cell


# -- 2: per-call overhead ----------------------------------------------------------------------


def plain_call_us(n: int, seconds: float) -> float:
    """Median time of one ``incr`` in the same loop, called directly on this thread."""
    obj = DictCounter()
    work = calling_loop(obj, n)
    samples: list[float] = []
    start = perf_counter()
    while perf_counter() - start < seconds or len(samples) < MIN_RUNS:
        t0 = perf_counter()
        work()
        samples.append(perf_counter() - t0)
    return statistics.median(samples) / n * 1e6


def measure_per_call(
    ex: Executor,
    granularity: str,
    n: int,
    seconds: float,
    problems: Problems,
    capture_values: bool = True,
) -> dict[str, Any]:
    """1 thread, `n` calls vs. 0 calls; medians of individually timed runs.

    A finished run stays referenced by its pooled workers until their next run, so the trace
    of a run is freed inside the NEXT `Executor.run`. Each cycle is therefore
    ``run(n); run(0) [pays for freeing run(n)]; run(0) [the true fixed cost]``, and the cost
    of the n calls is ``run(n) + the run(0) after it - 2 x fixed``, trace release included.
    """
    where = f"per-call {granularity}" + ("" if capture_values else " (capture off)")
    options = run_options(granularity)

    def timed_run(calls: int) -> tuple[float, int]:
        obj = DictCounter()
        work = calling_loop(obj, calls)
        schedule = RandomSchedule(next_seed())
        t0 = perf_counter()
        result = ex.run(
            [work], schedule, capture_values=capture_values, max_steps=MAX_STEPS, **options
        )
        took = perf_counter() - t0
        if not result.ok:
            problems.add(where, f"run not ok: {result.describe()[:500]}")
        if obj.d.get("k", 0) != calls:
            problems.add(where, f"counter is {obj.d.get('k', 0)} after {calls} calls")
        return took, result.steps

    cell: dict[str, Any] = {"granularity": granularity, "n": n, "capture_values": capture_values}
    gc.collect()
    try:
        timed_run(n)  # warm-up: point tables, monitoring re-armed for this configuration
        timed_run(0)
        full: list[float] = []
        after_full: list[float] = []
        fixed: list[float] = []
        steps = 0
        start = perf_counter()
        while perf_counter() - start < seconds or len(full) < MIN_RUNS:
            took, steps = timed_run(n)
            full.append(took)
            after_full.append(timed_run(0)[0])
            fixed.append(timed_run(0)[0])
    except Exception as exc:
        problems.add(where, f"exception: {exc!r}")
        cell["error"] = repr(exc)
        return cell
    t_fixed = statistics.median(fixed)
    t_full = statistics.median(full)
    t_release = statistics.median(after_full) - t_fixed
    cell.update(
        runs=len(full),
        fixed_run_us=t_fixed * 1e6,
        run_us=t_full * 1e6,
        release_us=t_release * 1e6,
        us_per_call=(t_full + t_release - t_fixed) / n * 1e6,
        us_per_call_simple=t_full / n * 1e6,
        points_per_call=steps / n,
    )
    return cell


# -- profiling ---------------------------------------------------------------------------------


def profile(granularity: str, n: int, limit: int) -> None:
    """cProfile of the Python part of the per-point hot path, replayed outside the hook.

    A deterministic profiler sees nothing that runs inside a `sys.monitoring` callback or a
    `sys.settrace` function (the interpreter suspends events there), so the hook's body is
    replayed here: inside a live 1-thread controlled run, for each of `n` calls, every
    scheduling point of ``DictCounter.incr`` is dispatched exactly as `on_instruction` does
    (table lookup, registry lookup, `Run.at_point` with a frame holding incr's locals).
    Not seen: the C-level cost of invoking the callback and ``sys._getframe(1)``; and with one
    thread `RandomSchedule.choose` returns without drawing (see the 2-thread figures).
    """
    import cProfile
    import pstats

    from harness.runtime.hooks import process_hooks
    from harness.runtime.registry import controlled_thread

    prof = cProfile.Profile()
    code = DictCounter.incr.__code__
    with Executor() as ex, World():
        obj = DictCounter()
        # A real run first: configures the instrumentation for this granularity.
        ex.run([calling_loop(obj, 10)], RandomSchedule(0), **run_options(granularity))
        table_of = process_hooks().instrumentation.table
        offsets = sorted(table_of(code) or {})

        def frame_of_incr(self: DictCounter, key: str = "k") -> Any:
            return sys._getframe()  # same local names as incr: what value capture reads

        frame = frame_of_incr(obj)

        def dispatch(code: Any, offset: int, frame: Any) -> None:
            table = table_of(code)
            point = table.get(offset) if table is not None else None
            if point is None:
                return
            agent = controlled_thread()
            if agent is not None and agent.run is not None:
                agent.run.at_point(agent, point, frame)

        def work() -> None:
            prof.enable()
            for _ in range(n):
                for offset in offsets:
                    dispatch(code, offset, frame)
            prof.disable()

        start = perf_counter()
        result = ex.run(
            [work],
            RandomSchedule(1),
            max_steps=n * len(offsets) + 10,
            **run_options(granularity),
        )
        took = perf_counter() - start
    print(
        f"cProfile: hot path replayed for {n} calls x {len(offsets)} points of "
        f"DictCounter.incr at {granularity} (run ok: {result.ok}, {took:.2f} s with profiler)"
    )
    print(f"Python {platform.python_version()}, hooks: {backend_name()}\n")
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(limit)


# -- orchestration -----------------------------------------------------------------------------


def world_enter_exit_us(seconds: float) -> float:
    count = 0
    start = perf_counter()
    while perf_counter() - start < seconds or count < 100:
        with World():
            pass
        count += 1
    return (perf_counter() - start) / count * 1e6


def usable_cpus() -> set[int]:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


def pin(cpus: set[int]) -> None:
    """Set the main thread's CPU set; threads it creates afterwards (a new pool) inherit it."""
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)


def throughput_pass(
    seconds: float, placement: str, problems: Problems, pin_cpu: bool = False
) -> list[dict[str, Any]]:
    """Every scenario at every granularity, on a fresh pool (so it has the current affinity).

    `pin_cpu` is the Executor's own default (True): it pins its workers, and the test thread
    during runs, to one CPU. The baseline pass turns it off to show what that buys.
    """
    cells: list[dict[str, Any]] = []
    with Executor(pin_cpu=pin_cpu) as ex:
        with World():  # untimed: let the CPU clock up and the pool start before cell one
            measure_throughput(ex, 2, 3, NONE, 0.3, problems)
        for granularity in (NONE, *GRANULARITIES):
            with World():
                for threads, calls in SCENARIOS:
                    cell = measure_throughput(ex, threads, calls, granularity, seconds, problems)
                    cell["placement"] = placement
                    cells.append(cell)
    return cells


def benchmark(seconds: float, cpu: int | None = None, pinned_pass: bool = True) -> dict[str, Any]:
    problems = Problems()
    began = perf_counter()
    per_call_seconds = max(seconds / 2, 0.05)
    original_cpus = usable_cpus()
    placement = "os"
    if cpu is not None:
        pin({cpu})
        placement = f"cpu {cpu}"
    load_before = os.getloadavg()

    # Before any hook is armed in this process: the honest uninstrumented reference.
    pristine = plain_call_us(PER_CALL_N, per_call_seconds)
    world_cost = world_enter_exit_us(min(seconds / 4, 0.25))

    per_call: list[dict[str, Any]] = []
    armed_plain: dict[str, float] = {}
    with Executor() as ex:
        for granularity in (NONE, *GRANULARITIES):
            with World():
                per_call.append(
                    measure_per_call(ex, granularity, PER_CALL_N, per_call_seconds, problems)
                )
                if granularity != NONE:
                    per_call.append(
                        measure_per_call(
                            ex, granularity, PER_CALL_N, per_call_seconds, problems, False
                        )
                    )
            # The same plain call on this (uncontrolled) thread while the hooks are armed for
            # this granularity: what sequential steps on the test thread pay between runs.
            armed_plain[granularity] = plain_call_us(PER_CALL_N, per_call_seconds / 2)
    for cell in per_call:
        cell["placement"] = placement
        if "us_per_call" in cell:
            cell["plain_us_per_call"] = pristine
            cell["ratio"] = cell["us_per_call"] / pristine
            cell["armed_plain_us_per_call"] = armed_plain.get(cell["granularity"])

    placements = [placement]
    throughput = throughput_pass(seconds, placement, problems)
    if cpu is None and pinned_pass and len(original_cpus) > 1:
        # The harness's default: Executor(pin_cpu=True) keeps every controlled thread and the
        # test thread on one CPU during runs. Only one of them runs at a time, so one CPU loses
        # no parallelism, while every hand-off between CPUs costs a cross-CPU wake-up.
        throughput += throughput_pass(seconds, "harness", problems, pin_cpu=True)
        placements.append("harness")

    return {
        "python": platform.python_version(),
        "python_full": sys.version,
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "hook_backend": backend_name(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "settings": {
            "seconds_per_cell": seconds,
            "per_call_seconds_per_cell": per_call_seconds,
            "per_call_n": PER_CALL_N,
            "slices": SLICES,
            "cpu": cpu,
            "target": f"{TARGET_MODULE}.DictCounter.incr",
            "schedule": "RandomSchedule, new seed per run",
            "world_policy": "one World per measurement cell; timed with the real perf_counter "
            "bound at import; World enter+exit reported separately",
        },
        "world_enter_exit_us": world_cost,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "plain_us_per_call": pristine,
        "throughput": throughput,
        "per_call": per_call,
        "placements": placements,
        "problems": problems.items,
        "total_seconds": perf_counter() - began,
    }


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def render(report: dict[str, Any]) -> str:
    lines: list[str] = []
    granularities = (NONE, *GRANULARITIES)
    settings = report["settings"]
    pinned = f", pinned to CPU {settings['cpu']}" if settings.get("cpu") is not None else ""
    load = "/".join(f"{x:.1f}" for x in report["loadavg_before"])
    lines.append(
        f"Python {report['python']} ({report['implementation']}), hooks: "
        f"{report['hook_backend']}, {report['cpu_count']} CPUs "
        f"({report['cpus_usable']} usable{pinned}), load {load}, {report['date']}"
    )
    lines.append(
        f"{settings['seconds_per_cell']:g} s per throughput cell in {SLICES} slices (median "
        "slice shown); one World per cell, timed"
    )
    lines.append(
        "with the real perf_counter bound at import; World enter+exit alone costs "
        f"{report['world_enter_exit_us']:.1f} us (not included)"
    )
    width = 19
    header = f"{'scenario':<9}" + "".join(f"{g:>{width}}" for g in granularities)
    for placement in report["placements"]:
        cells = {
            (c["threads"], c["calls"], c["granularity"]): c
            for c in report["throughput"]
            if c.get("placement") == placement
        }

        def table(text_of: Callable[[dict[str, Any]], str], cells: Any = cells) -> None:
            for threads, calls in SCENARIOS:
                row = f"{f'{threads}x{calls}':<9}"
                for g in granularities:
                    c = cells.get((threads, calls, g), {})
                    text = "ERROR" if "error" in c else text_of(c) if "runs_per_s" in c else "-"
                    row += f"{text:>{width}}"
                lines.append(row)

        where = (
            "threads placed by the OS (Executor(pin_cpu=False))"
            if placement == "os"
            else "the harness's default: threads pinned to one CPU (Executor())"
            if placement == "harness"
            else f"every thread pinned to {placement.replace('cpu', 'CPU')}"
        )
        lines.append("")
        lines.append(f"== Runs/s, {where} ==")
        lines.append("T threads x C calls of DictCounter.incr, RandomSchedule with a new seed per")
        lines.append("run. none = modules=(): nothing instrumented, the fixed cost of a run.")
        lines.append(header)
        table(lambda c: _fmt(c["runs_per_s"]))
        lines.append("spread of the slice rates (runs/s, min-max)")
        table(lambda c: f"{c['runs_per_s_min']:,.0f}-{c['runs_per_s_max']:,.0f}")
        lines.append("us/run | scheduling points/run | share of runs that lost an update")
        table(
            lambda c: (
                f"{c['us_per_run']:.0f} | {c['steps_per_run']:.0f} | {c['lost_update_share']:.2f}"
            )
        )
    lines.append("")
    lines.append(
        f"Per-call overhead: 1 thread x {settings['per_call_n']} calls, "
        "(run(N) + trace release - run(0)) / N, medians"
    )
    lines.append(
        f"plain call (same loop, no hook ever armed): {report['plain_us_per_call']:.3f} us/call"
    )
    lines.append(
        f"{'granularity':<12}{'us/call':>9}{'ratio':>8}{'pts/call':>9}{'run(0) us':>11}"
        f"{'release us':>11}{'no-capture':>12}{'ratio':>7}{'armed plain':>13}"
    )
    by_gran: dict[str, dict[bool, dict[str, Any]]] = {}
    for c in report["per_call"]:
        by_gran.setdefault(c["granularity"], {})[c["capture_values"]] = c
    for g in granularities:
        on = by_gran.get(g, {}).get(True, {})
        off = by_gran.get(g, {}).get(False, {})
        lines.append(
            f"{g:<12}{_fmt(on.get('us_per_call'), 2):>9}{_fmt(on.get('ratio'), 1):>8}"
            f"{_fmt(on.get('points_per_call'), 1):>9}{_fmt(on.get('fixed_run_us')):>11}"
            f"{_fmt(on.get('release_us')):>11}"
            f"{_fmt(off.get('us_per_call'), 2):>12}{_fmt(off.get('ratio'), 1):>7}"
            f"{_fmt(on.get('armed_plain_us_per_call'), 3):>13}"
        )
    lines.append("ratio = us/call / plain call. release = freeing the previous run's trace, which")
    lines.append("happens inside the next run. no-capture = capture_values=False. armed plain =")
    lines.append("the plain call on the uncontrolled main thread after runs at that granularity.")
    lines.append("")
    if report["problems"]:
        lines.append("PROBLEMS:")
        lines.extend(f"  - {p}" for p in report["problems"])
    else:
        lines.append("No problems: every run ok, every counter within bounds.")
    lines.append(f"total {report['total_seconds']:.1f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=1.0,
        help="timed seconds per throughput cell (16 cells per pass, two passes: OS placement "
        "and pinned to one CPU; per-call cells get half); total is about 42 x this "
        "(default 1.0)",
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument(
        "--profile",
        choices=(NONE, *GRANULARITIES),
        help="instead of benchmarking, print a cProfile of the per-call hot path",
    )
    parser.add_argument(
        "--cpu",
        type=int,
        help="pin everything to this one CPU and make a single pass (default: one pass with "
        "the OS placing threads, then one pinned to the last usable CPU)",
    )
    parser.add_argument(
        "--no-pinned-pass", action="store_true", help="skip the pass pinned to one CPU"
    )
    parser.add_argument("--profile-n", type=int, default=20_000, help="calls to profile")
    parser.add_argument("--profile-limit", type=int, default=25, help="rows to print")
    args = parser.parse_args(argv)
    if args.profile:
        profile(args.profile, args.profile_n, args.profile_limit)
        return 0
    if not args.seconds > 0:
        parser.error("--seconds must be positive")
    report = benchmark(args.seconds, args.cpu, not args.no_pinned_pass)
    print(render(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
