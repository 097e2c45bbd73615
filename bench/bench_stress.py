#!/usr/bin/env python
"""The stress engine on this interpreter (meant for free-threaded 3.13t), and pytest-run-parallel.

Run from the repository root (no installation needed beyond the project's own dependencies):

    PYTHON_GIL=0 python3.13t bench/bench_stress.py [--seeds N] [--examples M] [--repeats R]
        [--clean-examples E] [--clean-repeats R2] [--rounds K] [--prp PYTHON] [--json PATH]

1. The gallery: for every known-unsafe variant, N seeds of
   ``hunt(target, seed=s, engine="stress", max_examples=M, repeats=R)``: how many seeds stress
   caught it in, how many of those the controlled engine reproduced deterministically (and
   shrank to the minimal shape), the free-running rounds and seconds to the first failure, and
   the schedules the reproduction tried. A target stress never catches is listed as such.
2. False alarms: every fixed variant for E stress examples (R2 rounds each): 0 expected.
3. Against pytest-run-parallel on the same scenario and interpreter: per round a fresh
   `UnsafeBackoffer` (`backoffer_scenario.make_backoffer`), T threads x C calls of
   ``backoff(regionMiss)``, the lost update detected by `shows_lost_update`. Ours: K rounds
   on the stress engine's free threads (`StressExecutor`, barrier, no scheduler). Theirs: a
   pytest file of K parametrized tests run with ``--parallel-threads=T --iterations=1`` (the
   plugin's own barrier and minimal switch interval), each test with its own Backoffer from a
   fixture whose teardown checks it: the way a user writes a per-round stress test with it.
   Detection rate = failing rounds / rounds; time to first failure = the waits between failing
   rounds (pytest's per-test times from its JUnit XML, so its start-up is not counted).

pytest-run-parallel lives in a virtualenv of its own (``--prp`` names its python; it patches
every test of the session it runs in, so it is kept out of the project's venv).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from time import perf_counter  # bound before any World is entered: always the real clock
from typing import Any

from backoffer_scenario import calls_of, make_backoffer, shows_lost_update
from common import REPO_ROOT, loadavg, now, spread, waits

from harness import report
from harness.catalog import all_models
from harness.hunt import hunt
from harness.runtime.hooks import gil_enabled
from harness.runtime.instrument import resolve_modules
from harness.runtime.world import World
from harness.schedule.drawn import DrawnSchedule
from harness.stress.gate import process_gate
from harness.stress.runner import StressExecutor
from harness_gallery.backoffer import UnsafeBackoffer

SCENARIOS = ((2, 1), (4, 3))
DEFAULT_PRP = "/tmp/runparallel-ft-venv/bin/python"


def gallery(seeds: int, examples: int, repeats: int) -> list[dict[str, Any]]:
    rows = []
    for name, spec in sorted(all_models().items()):
        for variant in spec.cls.expect_failure:
            target = f"{name}.{variant}"
            runs: list[dict[str, Any]] = []
            for seed in range(seeds):
                started = perf_counter()
                result = hunt(
                    target, seed=seed, max_examples=examples, engine="stress", repeats=repeats
                )
                evidence = result.verdict.stress
                assert evidence is not None
                rounds = None
                if evidence.first_example is not None and evidence.first_round is not None:
                    rounds = (evidence.first_example - 1) * repeats + evidence.first_round
                runs.append(
                    {
                        "seed": seed,
                        "found": evidence.first is not None,
                        "kind_of_verdict": result.kind,
                        "seen": dict(evidence.seen),
                        "reproduced": evidence.reproduced,
                        "minimal": result.failure is not None and result.failure.looks_minimal(),
                        "kind": None if result.failure is None else result.failure.kind,
                        "rounds_to_first": rounds,
                        "seconds_to_first": evidence.seconds_to_first_failure,
                        "schedules": evidence.schedules_tried,
                        "seconds": perf_counter() - started,
                    }
                )
            found = [r for r in runs if r["found"]]
            row: dict[str, Any] = {
                "target": target,
                "seeds": seeds,
                "found": len(found),
                "reproduced": sum(r["reproduced"] for r in runs),
                "minimal": sum(r["minimal"] for r in runs),
                "rounds_to_first": spread([r["rounds_to_first"] for r in found]),
                "seconds_to_first": spread([r["seconds_to_first"] for r in found]),
                "schedules": spread([r["schedules"] for r in found]),
                "runs": runs,
            }
            print(
                f"{target}: caught in {row['found']}/{seeds} seeds, reproduced "
                f"{row['reproduced']}, minimal {row['minimal']}; rounds to first "
                f"{row['rounds_to_first']['median']}, s {row['seconds_to_first']['median']}",
                flush=True,
            )
            rows.append(row)
    return rows


def false_alarms(examples: int, repeats: int, only: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name, spec in sorted(all_models().items()):
        for variant in spec.cls.variants:
            target = f"{name}.{variant}"
            if variant in spec.cls.expect_failure or (only and target not in only):
                continue
            started = perf_counter()
            result = hunt(target, seed=0, max_examples=examples, engine="stress", repeats=repeats)
            evidence = result.verdict.stress
            assert evidence is not None
            row = {
                "target": target,
                "examples": evidence.examples,
                "rounds": evidence.rounds,
                "overlapping_rounds": evidence.overlapping_rounds,
                "false_alarms": evidence.failing_rounds,
                "verdict": report.headline(result),
                "seconds": perf_counter() - started,
            }
            print(
                f"{target}: {row['false_alarms']} false alarms in {row['rounds']} rounds",
                flush=True,
            )
            rows.append(row)
    return rows


def ours(threads: int, calls: int, rounds: int) -> dict[str, Any]:
    """K free-running rounds of the raw scenario on the stress engine's threads."""
    gate = process_gate()
    gate.arm()
    executor = StressExecutor(gate, resolve_modules)
    failing_at: list[float] = []
    elapsed = 0.0
    work = calls_of(calls)
    try:
        for _ in range(rounds):
            with World() as _world:
                bo = make_backoffer(UnsafeBackoffer)

                def worker(bo: Any = bo) -> None:
                    work(bo)

                started = perf_counter()
                executor.run(
                    [worker] * threads,
                    DrawnSchedule(),
                    modules=["harness_gallery.backoffer"],
                    stuck_after=10.0,
                )
                elapsed += perf_counter() - started
                if shows_lost_update(bo, threads * calls):
                    failing_at.append(elapsed)
    finally:
        gate.disarm()
        executor.close()
    return _summary(rounds, failing_at, elapsed)


PRP_TEST = textwrap.dedent(
    """
    import pytest

    from backoffer_scenario import calls_of, make_backoffer, shows_lost_update
    from harness_gallery.backoffer import UnsafeBackoffer

    THREADS, CALLS, ROUNDS = {threads}, {calls}, {rounds}


    @pytest.fixture
    def bo():
        shared = make_backoffer(UnsafeBackoffer)
        yield shared
        assert not shows_lost_update(shared, THREADS * CALLS), "lost update"


    @pytest.mark.parametrize("round_", range(ROUNDS))
    def test_backoff(bo, round_):
        calls_of(CALLS)(bo)
    """
)


def theirs(python: str, threads: int, calls: int, rounds: int) -> dict[str, Any]:
    """The same rounds as pytest-run-parallel tests, in its own virtualenv."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "test_prp.py").write_text(
            PRP_TEST.format(threads=threads, calls=calls, rounds=rounds)
        )
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join([str(REPO_ROOT / "bench"), str(REPO_ROOT)]),
        )
        started = perf_counter()
        done = subprocess.run(
            [
                python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:harness",
                f"--parallel-threads={threads}", "--iterations=1", "--junitxml=out.xml",
                "test_prp.py",
            ],
            cwd=folder, env=env, capture_output=True, text=True, check=False, timeout=3600,
        )  # fmt: skip
        wall = perf_counter() - started
        report = folder / "out.xml"
        if not report.exists():
            return {"error": (done.stdout + done.stderr)[-600:]}
        failing_at: list[float] = []
        elapsed = 0.0
        cases = ET.parse(report).getroot().iter("testcase")
        count = 0
        for case in cases:
            count += 1
            elapsed += float(case.get("time", 0.0))
            if case.find("failure") is not None or case.find("error") is not None:
                failing_at.append(elapsed)
        probe = "import importlib.metadata as m; print(m.version('pytest-run-parallel'))"
        version = subprocess.run(
            [python, "-c", probe],
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
    out = _summary(count, failing_at, elapsed)
    out.update({"wall_seconds": wall, "version": version, "tail": done.stdout[-300:]})
    return out


def _summary(rounds: int, failing_at: list[float], elapsed: float) -> dict[str, Any]:
    return {
        "rounds": rounds,
        "failing": len(failing_at),
        "rate": len(failing_at) / rounds if rounds else None,
        "seconds": elapsed,
        "us_per_round": elapsed / rounds * 1e6 if rounds else None,
        "time_to_first": spread(waits(failing_at)),
    }


BEGIN = "<!-- bench_stress.py: begin -->"
END = "<!-- bench_stress.py: end -->"


def _num(value: Any, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def markdown(out: dict[str, Any]) -> str:
    """The stress section of BENCHMARKS.md (kept by report.py when it rewrites the file)."""
    gil = "enabled" if out["gil_enabled"] else "disabled"
    lines = [
        BEGIN,
        "## The stress engine and pytest-run-parallel",
        "",
        f"Generated by `{out['command']}` on {out['date']}, Python {out['python']} (GIL {gil}); "
        f"load average {' / '.join(f'{x:.2f}' for x in out['load_before'])} before. "
        "What each number measures: the docstring of `bench/bench_stress.py`.",
        "",
    ]
    if "gallery" in out:
        lines += [
            'Every known-unsafe variant under `hunt(engine="stress")`: seeds caught, reproduced '
            "deterministically, and shrunk to the minimal shape; free-running rounds and seconds "
            "to the first failure (medians over the seeds that caught it); schedules the "
            "reproduction tried (median).",
            "",
            "| target | caught | reproduced | minimal | rounds to first | s to first | schedules |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in out["gallery"]:
            lines.append(
                f"| {row['target']} | {row['found']}/{row['seeds']} | {row['reproduced']} | "
                f"{row['minimal']} | {_num(row['rounds_to_first']['median'])} | "
                f"{_num(row['seconds_to_first']['median'], '{:.3f}')} | "
                f"{_num(row['schedules']['median'])} |"
            )
        missed = [r["target"] for r in out["gallery"] if r["found"] < r["seeds"]]
        if missed:
            lines += ["", "Not caught under stress in every seed: " + ", ".join(missed) + "."]
        lines.append("")
    if "clean" in out:
        lines += [
            "False alarms on the fixed variants (must be 0), and the rounds in which two or "
            "more workers were inside the code under test at once (the model gate counts the "
            "crossings): what a clean stress verdict rests on.",
            "",
            "| variant | examples | rounds | overlapping rounds | false alarms |",
            "|---|---|---|---|---|",
        ]
        for row in out["clean"]:
            overlap = row.get("overlapping_rounds")
            lines.append(
                f"| {row['target']} | {row['examples']:,} | {row['rounds']:,} | "
                f"{_num(overlap)} | {row['false_alarms']} |"
            )
        lines.append("")
    if "peers" in out:
        lines += [
            "The same scenario (a fresh `UnsafeBackoffer` per round, T threads x C calls of "
            "`backoff(regionMiss)`, `shows_lost_update`) on the stress engine's free threads and "
            "under pytest-run-parallel: detection rate (failing rounds), time per round, and the "
            "median wait for a failing round.",
            "",
            "| scenario | tool | rounds | detection rate | us/round | median time to failure |",
            "|---|---|---|---|---|---|",
        ]
        for cell in out["peers"]:
            for tool, key in (
                ("harness stress", "harness_stress"),
                ("pytest-run-parallel", "pytest_run_parallel"),
            ):
                data = cell[key]
                if "error" in data:
                    lines.append(
                        f"| {cell['scenario']} | {tool} | not measured: "
                        f"{data['error'][:80]} | | | |"
                    )
                    continue
                label = tool if key == "harness_stress" else f"{tool} {data.get('version', '')}"
                ttf = data["time_to_first"]["median"]
                lines.append(
                    f"| {cell['scenario']} | {label} | {data['rounds']:,} | "
                    f"{data['rate'] * 100:.1f}% | {_num(data['us_per_round'])} | "
                    f"{_num(None if ttf is None else ttf * 1000, '{:.2f} ms')} |"
                )
        lines.append("")
    for note in out.get("notes", []):
        lines += [note, ""]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace the stress section of `path` (or append it): the rest is report.py's."""
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="stress hunts per unsafe variant")
    parser.add_argument("--examples", type=int, default=200, help="max examples per hunt")
    parser.add_argument("--repeats", type=int, default=50, help="rounds per example (gallery)")
    parser.add_argument(
        "--clean-examples", type=int, default=1000, help="examples per fixed variant"
    )
    parser.add_argument("--clean-repeats", type=int, default=10, help="rounds per example (fixed)")
    parser.add_argument("--rounds", type=int, default=2000, help="rounds per peer comparison cell")
    parser.add_argument("--prp", default=DEFAULT_PRP, help="python of pytest-run-parallel's venv")
    parser.add_argument("--skip", nargs="*", default=[], choices=["gallery", "clean", "peers"])
    parser.add_argument("--only", nargs="*", default=[], help="clean: only these variants")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument(
        "--markdown", action="store_true", help="write the stress section of BENCHMARKS.md"
    )
    parser.add_argument("--from-json", type=Path, help="only render the section from this file")
    args = parser.parse_args()
    if args.from_json:
        write_section(REPO_ROOT / "BENCHMARKS.md", markdown(json.loads(args.from_json.read_text())))
        return 0
    out: dict[str, Any] = {
        "date": now(),
        "python": sys.version.split()[0],
        "gil_enabled": gil_enabled(),
        "command": " ".join(["python", *sys.argv]),
        "load_before": loadavg(),
    }
    print(f"python {out['python']}, GIL {'enabled' if out['gil_enabled'] else 'disabled'}")
    if "gallery" not in args.skip:
        out["gallery"] = gallery(args.seeds, args.examples, args.repeats)
    if "clean" not in args.skip:
        out["clean"] = false_alarms(args.clean_examples, args.clean_repeats, args.only)
    if "peers" not in args.skip:
        peers = []
        for threads, calls in SCENARIOS:
            mine = ours(threads, calls, args.rounds)
            other = (
                theirs(args.prp, threads, calls, args.rounds)
                if Path(args.prp).exists()
                else {"error": f"no pytest-run-parallel python at {args.prp}"}
            )
            cell = {
                "scenario": f"{threads}x{calls}",
                "harness_stress": mine,
                "pytest_run_parallel": other,
            }
            print(json.dumps({k: v for k, v in cell.items()}, default=str)[:600], flush=True)
            peers.append(cell)
        out["peers"] = peers
    out["load_after"] = loadavg()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1, default=str))
    if args.markdown:
        write_section(REPO_ROOT / "BENCHMARKS.md", markdown(out))
    ok = all(r["false_alarms"] == 0 for r in out.get("clean", []))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
