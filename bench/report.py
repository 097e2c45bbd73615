#!/usr/bin/env python
"""Every benchmark in one run, and BENCHMARKS.md written from its numbers.

    python bench/report.py [--quick] [--seconds S] [--seeds N] [--runtime-seconds R]
                           [--exhaust-cap C] [--frontrun PATH]
    python bench/report.py --from-json bench/results/benchmarks.json   # re-render only

Runs, each in its own process so that none inherits another's hooks, threads or patches:
`bench_runtime.py` under every pyenv CPython found (3.11.7, 3.12.1, 3.13.0), `bench_hunt.py`
for the unsafe Backoffer at every granularity, and `bench_peers.py` (naive stress, the bare
runtime and frontrun on the same Backoffer scenarios). The parts' JSON files and the combined
`benchmarks.json` go to bench/results/; BENCHMARKS.md (repo root) and the plot
bench/time-to-first-failure.png are rewritten from the combined file, so every ratio in them
comes from numbers of that one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from time import perf_counter
from typing import Any

import bench_peers
import report_health
from common import REPO_ROOT, cpu_model, loadavg, now

from harness.runtime import GRANULARITIES

BENCH = REPO_ROOT / "bench"
RESULTS = BENCH / "results"
MARKDOWN = REPO_ROOT / "BENCHMARKS.md"
STRESS_BEGIN = "<!-- bench_stress.py: begin -->"
PLOT = BENCH / "time-to-first-failure.png"
#: Plot colours by how a series' label starts: one per tool.
COLOURS = {
    "harness hunt": "tab:blue",
    "harness runtime": "tab:green",
    "frontrun": "tab:orange",
    "naive": "tab:gray",
}
PYENV_VERSIONS = ("3.11.7", "3.12.1", "3.13.0")
FULL = {
    "seconds": 10.0,
    "seeds": 50,
    "gallery_seeds": 100,
    "runtime_seconds": 1.0,
    "exhaust_cap": 60.0,
}
QUICK = {
    "seconds": 2.0,
    "seeds": 5,
    "gallery_seeds": 5,
    "runtime_seconds": 0.2,
    "exhaust_cap": 5.0,
}
#: The gallery's models with a known-unsafe variant (issue 6), hunted at the default points.
GALLERY = ("counter", "bank", "lazy-init", "lru", "dict-iteration", "cachetools-lru")
SETTINGS = {
    "seconds": "bench_peers.py: wall clock per naive-stress cell",
    "seeds": "bench_hunt.py: seeds per granularity",
    "gallery_seeds": "bench_hunt.py: seeds per gallery model (access)",
    "runtime_seconds": "bench_runtime.py: timed seconds per cell, on each Python",
    "exhaust_cap": "bench_peers.py: cap in seconds on each frontrun DPOR exhaustion",
}
OVERHEAD_BAR_US = 2.0
#: bench_peers.py runs here: the peers' Python (interleave-test needs 3.12+).
DEFAULT_PEERS_PYTHON = "/tmp/harness312-venv/bin/python"
RATE_BAR = 10.0


def interpreters() -> dict[str, str]:
    """The pyenv CPythons present, by version; this interpreter alone if there are none."""
    root = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser() / "versions"
    found = {v: str(root / v / "bin" / "python") for v in PYENV_VERSIONS}
    found = {v: path for v, path in found.items() if Path(path).exists()}
    return found or {platform.python_version(): sys.executable}


def run_part(python: str, script: str, json_path: Path, *options: str) -> dict[str, Any]:
    """Run one bench script, its output shown as it comes; its JSON plus how it ended."""
    json_path.unlink(missing_ok=True)  # a part that fails must not pass off an older run's numbers
    command = [python, str(BENCH / script), "--json", str(json_path), *options]
    print(f"\n$ {shlex.join(command)}", flush=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    started = perf_counter()
    status = subprocess.run(command, cwd=REPO_ROOT, env=env, check=False).returncode
    part: dict[str, Any] = {}
    if json_path.exists():
        part = json.loads(json_path.read_text())
    part["exit_status"] = status
    part["wall_seconds"] = perf_counter() - started
    return part


def measure(args: argparse.Namespace) -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    began = perf_counter()
    combined: dict[str, Any] = {
        "command": "python bench/report.py " + shlex.join(sys.argv[1:]),
        "quick": args.quick,
        "settings": {k: getattr(args, k) for k in FULL},
        "date": now(),
        "python": platform.python_version(),
        "machine": {
            "cpu": cpu_model(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg_before": loadavg(),
        },
        "runtime": {},
    }
    for version, python in interpreters().items():
        combined["runtime"][version] = run_part(
            python,
            "bench_runtime.py",
            RESULTS / f"runtime-{version}.json",
            "--seconds",
            str(args.runtime_seconds),
        )
    combined["hunt"] = run_part(
        sys.executable,
        "bench_hunt.py",
        RESULTS / "hunt.json",
        "--seeds",
        str(args.seeds),
        "--models",
        "backoffer",
        "--variants",
        "unsafe",
    )
    combined["gallery"] = run_part(
        sys.executable,
        "bench_hunt.py",
        RESULTS / "gallery.json",
        "--seeds",
        str(args.gallery_seeds),
        "--points",
        "access",
        "--models",
        *GALLERY,
    )
    peer_options = ["--seconds", str(args.seconds), "--exhaust-cap", str(args.exhaust_cap)]
    if args.frontrun:
        peer_options += ["--frontrun", args.frontrun]
    # The first-failure ratios compare tools on one Python: interleave-test needs 3.12.
    peers_python = args.peers_python or sys.executable
    combined["peers"] = run_part(
        peers_python, "bench_peers.py", RESULTS / "peers.json", "--no-hunts", *peer_options
    )
    combined["cli"] = run_part(
        sys.executable,
        "bench_cli.py",
        RESULTS / "cli.json",
        "--python",
        *dict.fromkeys([sys.executable, peers_python]),
    )
    combined["longrun"] = run_part(
        sys.executable,
        "bench_longrun.py",
        RESULTS / "longrun.json",
        *(["--hunts", "200", "--warm", "50"] if args.quick else []),
    )
    combined["machine"]["loadavg_after"] = loadavg()
    combined["total_seconds"] = perf_counter() - began
    return combined


# -- the verdicts ------------------------------------------------------------------------------


def hunt_rows(combined: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["granularity"]: row for row in combined["hunt"].get("rows", [])}


def default_hunt(combined: dict[str, Any]) -> dict[str, Any] | None:
    """The hunt at the default granularity (access), shaped as `bench_peers.ratios` wants it."""
    row = hunt_rows(combined).get("access")
    if row is None:
        return None
    return {
        "share": row["found"] / row["seeds"],
        "seconds_to_first_median": row["seconds_to_first"]["median"],
        "seconds_to_first_max": row["seconds_to_first"]["max"],
    }


def ratio_rows(combined: dict[str, Any]) -> list[dict[str, Any]]:
    peers = combined["peers"]
    if "naive" not in peers:
        return []
    return bench_peers.ratios(peers, hunt=default_hunt(combined))


def _ms(seconds: float | None) -> str:
    return bench_peers._ms(seconds)


def _bar(bar: str, figure: str, met: bool) -> dict[str, Any]:
    return {"bar": bar, "figure": figure, "met": met}


def bars(combined: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 7's four bars: what each asks, the figure from this run, met or not."""
    by_key = {row["key"]: row for row in ratio_rows(combined)}
    hunts = hunt_rows(combined)
    out = []

    found = ", ".join(f"{g} {r['found']}/{r['seeds']}" for g, r in hunts.items())
    figure = f"seeds that found it within 100 examples: {found or 'not measured'}"
    detection = by_key.get("detection")
    if detection and detection["theirs"] is not None:
        cell = detection["cell"]
        figure += (
            f". Naive stress in the same time ({_ms(detection['window'])}, the slowest access "
            f"hunt), best cell ({cell['threads']}x{cell['calls']} {cell['sleep']}, switch "
            f"{cell['switch_interval']:g}): {detection['theirs']:.1%} of such windows "
            f"({cell['share']:.2%} of its runs)"
        )
    out.append(
        _bar(
            "Detection: 100% of seeds within 100 examples, vs the naive peer in the same time",
            figure,
            bool(hunts) and all(r["found"] == r["seeds"] for r in hunts.values()),
        )
    )

    ttf = _measured(by_key, "ttf_hunt_frontrun_dpor")
    out.append(
        _bar(
            "Time to first counterexample: harness / frontrun <= 1.0 on the 2-worker Backoffer",
            "; ".join(
                f"{r['what'].split()[0]}: hunt median {_ms(r['ours'])} / frontrun DPOR "
                f"median {_ms(r['theirs'])} = {r['ratio']:.2f}"
                for r in ttf
            )
            or "not measured",
            bool(ttf) and all(r["ratio"] <= 1.0 for r in ttf),
        )
    )

    # frontrun's random strategy schedules at every opcode: that is the same granularity.
    rate = _measured(by_key, "rate_opcode_frontrun")
    out.append(
        _bar(
            f"Executions/s: >= {RATE_BAR:g}x frontrun random, same scenario and granularity",
            "; ".join(
                f"{r['what'].split()[0]} at opcode: {r['ours']:,.0f} / {r['theirs']:,.0f} "
                f"= {r['ratio']:.1f}x"
                for r in rate
            )
            or "not measured",
            bool(rate) and all(r["ratio"] >= RATE_BAR for r in rate),
        )
    )

    overheads = [
        (version, cell["us_per_call"])
        for version, report in combined["runtime"].items()
        if tuple(int(x) for x in version.split(".")[:2]) >= (3, 12)
        for cell in report.get("per_call", [])
        if cell["granularity"] == "gil" and cell["capture_values"] and "us_per_call" in cell
    ]
    out.append(
        _bar(
            f"Per-call overhead at gil on 3.12+: <= {OVERHEAD_BAR_US:g} us",
            ", ".join(f"{v}: {us:.2f} us" for v, us in overheads) or "not measured",
            bool(overheads) and all(us <= OVERHEAD_BAR_US for _, us in overheads),
        )
    )
    return out


# -- BENCHMARKS.md -----------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _n(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _mp(stats: dict[str, Any], seconds: bool = False) -> str:
    """Median / p90 of a `common.spread`."""
    if stats["median"] is None:
        return "-"
    if seconds:
        return f"{_ms(stats['median'])} / {_ms(stats['p90'])}"
    return f"{stats['median']:.3g} / {stats['p90']:.3g}"


def _load(values: list[float] | None) -> str:
    return " / ".join(f"{x:.2f}" for x in values or []) or "-"


def runtime_section(combined: dict[str, Any]) -> list[str]:
    runtime = combined["runtime"]
    lines = [
        "## Controlled runtime: runs per second",
        "",
        "T threads x C calls of `DictCounter.incr` (`d[k] = d.get(k, 0) + 1`), one `Executor.run`"
        " per run with a new `RandomSchedule` seed, the harness's default placement (its threads "
        "pinned to one CPU); median of 5 timed slices. `none` instruments nothing: the fixed cost"
        " of a run.",
        "",
    ]
    rows = []
    for version, report in runtime.items():
        cells = {
            (c["threads"], c["calls"], c["granularity"]): c
            for c in report.get("throughput", [])
            if c.get("placement") == "harness"
        }
        for threads, calls in sorted({(t, c) for t, c, _ in cells}):
            rows.append(
                [version, f"{threads}x{calls}"]
                + [
                    _n(cells.get((threads, calls, g), {}).get("runs_per_s"))
                    for g in ("none", *GRANULARITIES)
                ]
            )
    lines += table(["Python", "scenario", "none", *GRANULARITIES], rows)
    lines += [
        "## Per-call overhead",
        "",
        "One thread calling `incr` 2,000 times in a controlled run: (run(N) + trace release - "
        "run(0)) / N, medians; `x plain` divides by the same loop called with no hook armed.",
        "",
    ]
    rows = []
    for version, report in runtime.items():
        by = {(c["granularity"], c["capture_values"]): c for c in report.get("per_call", [])}
        for g in GRANULARITIES:
            on, off = by.get((g, True), {}), by.get((g, False), {})
            rows.append(
                [
                    version,
                    report.get("hook_backend", "-"),
                    g,
                    _n(on.get("us_per_call"), 2),
                    _n(on.get("ratio"), 1),
                    _n(off.get("us_per_call"), 2),
                    _n(report.get("plain_us_per_call"), 3),
                ]
            )
    lines += table(
        ["Python", "hooks", "points", "us/call", "x plain", "us/call, no capture", "plain us"],
        rows,
    )
    problems = [f"{v}: {p}" for v, r in runtime.items() for p in r.get("problems", [])] + [
        f"{v}: exit status {r['exit_status']}" for v, r in runtime.items() if r["exit_status"]
    ]
    if problems:
        lines += ["Problems reported by `bench_runtime.py`:", ""]
        lines += [f"- {p}" for p in problems] + [""]
    return lines


def hunt_section(combined: dict[str, Any]) -> list[str]:
    hunts = hunt_rows(combined)
    if not hunts:
        status = combined["hunt"].get("exit_status")
        return ["## Hunting the unsafe Backoffer", "", f"Not measured (exit {status}).", ""]
    seeds = next(iter(hunts.values()))["seeds"]
    lines = [
        "## Hunting the unsafe Backoffer",
        "",
        f'`hunt("backoffer", "unsafe", seed=s, granularity=g)` for seeds 0..{seeds - 1}, one '
        "hunt per seed, shrinking included (median / p90 of the seeds that found it). Examples "
        "to shrunk: every example Hypothesis ran in the hunt (the first failure's number, plus "
        "a re-run with Hypothesis shrinking when the harness's minimiser falls short of the "
        "minimal shape); the minimiser's replays count in the time only. Minimal: one parallel "
        "round, 2 workers, 1 call each, 1 preemption.",
        "",
    ]
    rows = [
        [
            g,
            f"{r['found']}/{r['seeds']}",
            _mp(r["examples_to_first"]),
            _mp(r["seconds_to_first"], seconds=True),
            _mp(r["examples_to_shrunk"]),
            _mp(r["seconds_to_shrunk"], seconds=True),
            f"{r['minimal']}/{r['seeds']}",
            ", ".join(f"{shape} x{n}" for shape, n in r["shapes"].items()),
        ]
        for g, r in hunts.items()
    ]
    return lines + table(
        [
            "points",
            "found",
            "examples to first",
            "time to first",
            "examples to shrunk",
            "time to shrunk",
            "minimal",
            "shrunk shapes (steps/workers/calls/preemptions)",
        ],
        rows,
    )


def peers_section(combined: dict[str, Any]) -> list[str]:
    peers = combined["peers"]
    if "naive" not in peers:
        return ["## Peers", "", f"Not measured (`bench_peers.py` exit {peers['exit_status']}).", ""]
    hunt = default_hunt(combined)
    window = hunt["seconds_to_first_max"] if hunt else None
    lines = [
        "## Naive stress",
        "",
        f"What a user would write: per run a fresh `UnsafeBackoffer`, N new threads released by a "
        f"`threading.Barrier`, {peers['settings']['naive_calls']} calls each, "
        f"{peers['settings']['seconds']:g} s per cell. Windows: the share of consecutive "
        f"stretches as long as the slowest access hunt's time to first failure ({_ms(window)}) "
        "in which the stress loop saw the bug.",
        "",
    ]
    rows = [
        [
            f"{c['threads']}x{c['calls']}",
            c["sleep"],
            f"{c['switch_interval']:g}",
            _n(c["runs"]),
            c["found"],
            f"{c['share']:.2%}",
            _n(c["runs_per_s"]),
            "-"
            if window is None or bench_peers.window_share(c, window) is None
            else f"{bench_peers.window_share(c, window):.1%}",
        ]
        for c in peers["naive"]
    ]
    lines += table(
        [
            "threads x calls",
            "sleep",
            "switch interval",
            "runs",
            "detected",
            "of runs",
            "runs/s",
            "of windows",
        ],
        rows,
    )
    lines += frontrun_section(peers)
    lines += ["## Ratios (ours / theirs, same run)", ""]
    lines += table(
        ["comparison", "ours", "theirs", "ratio"],
        [
            [
                r["what"],
                bench_peers.format_value(r, "ours"),
                bench_peers.format_value(r, "theirs"),
                "-" if r["ratio"] is None else f"{r['ratio']:.3g}",
            ]
            for r in ratio_rows(combined)
        ],
    )
    return lines


def frontrun_section(peers: dict[str, Any]) -> list[str]:
    fr = peers["frontrun"]
    lines = ["## frontrun and the bare runtime on the same scenarios", ""]
    if "error" in fr:
        return [*lines, f"frontrun not measured: {fr['error']}", ""]
    lines += [
        f"frontrun {fr['version']} under its own launcher on Python {fr['python']}; the workers "
        "call `backoff(regionMiss)` on one shared Backoffer (`bench/backoffer_scenario.py`). "
        "frontrun: median of the runs that found it (DPOR: 5 runs, random: seeds 0-9), "
        "executions/s from 200 random executions. Harness: `Executor.run` with a new "
        "noise seed per run (the random switches a hunt draws, at about one point in "
        f"{bench_peers.HUNT_NOISE_RATE}), no value capture; time to first is the median wait "
        "between detections.",
        "",
    ]
    rows = []
    for key, e in peers["frontrun_summary"].items():
        for strategy in ("dpor", "random"):
            s = e[strategy]
            rows.append(
                [
                    key,
                    f"frontrun {strategy}",
                    f"{s['found']}/{s['tries']}",
                    _n(s["executions_to_first_median"]),
                    _ms(s["seconds_to_first_median"]),
                    _n(e.get("random_executions_per_s")) if strategy == "random" else "-",
                ]
            )
        for c in peers["harness_runtime"]:
            if f"{c['threads']}x{c['calls']}" == key:
                waits = c["waits"]
                rows.append(
                    [
                        key,
                        f"harness runtime, {c['granularity']}",
                        f"{c['found']:,}/{c['runs']:,}",
                        "1" if c["share"] == 1 else f"{1 / c['share']:.2g}" if c["share"] else "-",
                        _ms(sorted(waits)[len(waits) // 2]) if waits else "-",
                        _n(c["runs_per_s"]),
                    ]
                )
    lines += table(
        ["scenario", "tool", "found", "executions to first", "time to first", "executions/s"],
        rows,
    )
    lines += [
        "DPOR exhausting a correctly locked Backoffer (`stop_on_first=False`), capped at "
        f"{peers['settings']['exhaust_cap']:g} s:",
        "",
    ]
    rows = []
    for key, e in peers["frontrun_summary"].items():
        for name, label in bench_peers.LOCKED_CELLS.items():
            ld = e.get(name)
            if ld:
                done = not (ld["capped"] or ld["property_holds"] is None)
                rows.append(
                    [
                        key,
                        label,
                        _n(ld["executions"]),
                        f"{ld['seconds']:.2f} s",
                        "yes" if done else "no, cap reached",
                    ]
                )
    lines += table(["scenario", "Backoffer", "executions", "time", "exhausted"], rows)
    return [
        *lines,
        "The nested lock is the model's statement counter (`ExecDetails`, the oracle of invariant "
        "I9), taken inside the Backoffer's own lock and never contended; the peers' scenario "
        "leaves it out because the lost-update check does not read it (see bench/README.md).",
        "",
    ]


def gallery_section(combined: dict[str, Any]) -> list[str]:
    """Issue 6's bar: every gallery model's unsafe variant, caught and minimal, over the seeds."""
    part = combined.get("gallery", {})
    head = ["## The gallery's unsafe variants", ""]
    if not part.get("rows"):
        return [*head, f"Not measured (exit {part.get('exit_status')}).", ""]
    lines = [
        *head,
        "`hunt(model, unsafe, seed=s)` at access for every gallery model (issue 6's bar: caught "
        "in >= 99 of 100 seeds with a minimal counterexample). Minimal: one parallel round, 2 "
        "workers, 1 call each, at most 1 preemption, plus only the sequential steps the "
        "failure needs to set it up or to see it (shapes: steps/workers/calls/preemptions).",
        "",
    ]
    rows = [
        [
            f"{r['model']}.{r['variant']}",
            f"{r['found']}/{r['seeds']}",
            f"{r['minimal']}/{r['seeds']}",
            _mp(r["examples_to_first"]),
            _mp(r["seconds_to_first"], seconds=True),
            _mp(r["seconds_to_shrunk"], seconds=True),
            ", ".join(f"{shape} x{n}" for shape, n in r["shapes"].items()),
            ", ".join(f"{what} x{n}" for what, n in r["failures"].items()),
        ]
        for r in part["rows"]
    ]
    return lines + table(
        [
            "model",
            "found",
            "minimal",
            "examples to first",
            "time to first",
            "time to shrunk",
            "shapes",
            "failures",
        ],
        rows,
    )


def render(combined: dict[str, Any], plot: str | None) -> str:
    machine = combined["machine"]
    pythons = ", ".join(
        f"{v} ({r.get('hook_backend', '?')})" for v, r in combined["runtime"].items()
    )
    fr = combined["peers"].get("frontrun", {})
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{combined['command']}` on {combined['date']} in "
        f"{combined['total_seconds'] / 60:.1f} min; do not edit by hand (tables: "
        "`python bench/report.py --from-json bench/results/benchmarks.json`). What each number "
        "measures: [bench/README.md](bench/README.md).",
        "",
    ]
    if combined["quick"]:
        lines += [
            "**Quick run (`--quick`): few seeds and short cells, for checking the tooling; not "
            "the reference figures.**",
            "",
        ]
    lines += [
        f"- Machine: {machine['cpu']}, {machine['cpu_count']} CPUs, {machine['platform']}; load "
        f"average (1/5/15 min) {_load(machine['loadavg_before'])} before, "
        f"{_load(machine.get('loadavg_after'))} after.",
        f"- Pythons: runtime on {pythons}; bench_hunt's hunts, the CLI's first line and the "
        f"long runs on {combined['python']}; bench_peers (naive stress, the bounded hunts, "
        f"the bare runtime) on {combined['peers'].get('python', '?')}"
        + (f"; frontrun {fr['version']} on {fr['python']}" if "version" in fr else "")
        + ".",
        "",
        "## Issue 7's bars",
        "",
    ]
    lines += table(
        ["bar", "this run", "met"],
        [[b["bar"], b["figure"], "met" if b["met"] else "**not met**"] for b in bars(combined)],
    )
    lines += ["## Issue 13's and issue 12's bars", ""]
    lines += table(
        ["bar", "this run", "met"],
        [
            [b["bar"], b["figure"], "met" if b["met"] else "**not met**"]
            for b in report_health.bars(combined, ratio_rows(combined))
        ],
    )
    lines += runtime_section(combined)
    lines += hunt_section(combined)
    lines += gallery_section(combined)
    lines += peers_section(combined)
    lines += report_health.sections(combined)
    lines += ["## Time to first failure, per tool", ""]
    lines += (
        [f"![time to first failure per tool]({plot})", ""]
        if plot
        else ['Plot skipped: matplotlib is not installed (`pip install -e ".[bench]"`).', ""]
    )
    return "\n".join(lines).rstrip() + "\n"


# -- the plot ----------------------------------------------------------------------------------


def plot_series(combined: dict[str, Any]) -> list[tuple[str, list[float]]]:
    """(label, times to first failure in seconds) per tool, for the runs that found it."""
    series = [
        (f"harness hunt, {g}", [s["seconds_to_first"] for s in r["per_seed"] if s["found"]])
        for g, r in hunt_rows(combined).items()
    ]
    peers = combined["peers"]
    for c in peers.get("harness_runtime", []):
        series.append(
            (f"harness runtime {c['threads']}x{c['calls']}, {c['granularity']}", c["waits"])
        )
    for key, e in peers.get("frontrun_summary", {}).items():
        for strategy in ("dpor", "random"):
            series.append((f"frontrun {strategy} {key}", e[strategy]["seconds_to_first"]))
    for c in peers.get("naive", []):
        series.append(
            (
                f"naive {c['threads']}x{c['calls']} {c['sleep']}, switch {c['switch_interval']:g}",
                c["waits"],
            )
        )
    return [(label, values) for label, values in series if values]


def _measured(by_key: dict[str, dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The rows ``{prefix}_{scenario}`` that were measured (a ratio), in scenario order."""
    rows = [by_key.get(f"{prefix}_{key}") for key in bench_peers.scenario_keys()]
    return [row for row in rows if row is not None and row["ratio"] is not None]


def write_plot(combined: dict[str, Any], path: Path) -> bool:
    """A box per tool on a log time axis, the samples over it; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    series = plot_series(combined)
    if not series:
        return False
    labels = [f"{label} (n={len(values)})" for label, values in series]
    colours = [
        next(c for start, c in COLOURS.items() if label.startswith(start)) for label, _ in series
    ]
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(series) + 1.6))
    positions = list(range(len(series), 0, -1))
    ax.boxplot(
        [values for _, values in series],
        positions=positions,
        orientation="horizontal",
        widths=0.6,
        showfliers=False,
    )
    for y, (_, values), colour in zip(positions, series, colours, strict=True):
        step = 0.5 / max(len(values), 1)
        ax.scatter(
            values,
            [y - 0.25 + i * step for i in range(len(values))],
            s=4,
            alpha=0.35,
            color=colour,
        )
    ax.set_yticks(positions, labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("seconds to the first failure (log scale)")
    ax.set_title(
        f"Time to first failure, unsafe Backoffer ({combined['date'][:10]}"
        + (", quick run" if combined["quick"] else "")
        + ")",
        fontsize=10,
    )
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# -- main --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short cells and few seeds, to check the tooling (about 2 min)",
    )
    for key, default in FULL.items():
        parser.add_argument(
            "--" + key.replace("_", "-"),
            type=type(default),
            help=f"{SETTINGS[key]} (default {default:g}, with --quick {QUICK[key]:g})",
        )
    parser.add_argument("--frontrun", help="frontrun launcher (default: bench_peers' search)")
    parser.add_argument(
        "--peers-python",
        default=DEFAULT_PEERS_PYTHON if Path(DEFAULT_PEERS_PYTHON).exists() else None,
        help="a Python 3.12 with the project installed, for bench_peers.py (default "
        f"{DEFAULT_PEERS_PYTHON} if present, else this interpreter)",
    )
    parser.add_argument(
        "--from-json", type=Path, help="render BENCHMARKS.md and the plot from this file only"
    )
    args = parser.parse_args(argv)
    if args.from_json:
        combined = json.loads(args.from_json.read_text())
    else:
        defaults = QUICK if args.quick else FULL
        for key, value in defaults.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
        combined = measure(args)
        (RESULTS / "benchmarks.json").write_text(json.dumps(combined, indent=1) + "\n")
    plotted = write_plot(combined, PLOT)
    # bench_stress.py runs on another interpreter (free-threaded 3.13t) and owns its section.
    previous = MARKDOWN.read_text() if MARKDOWN.exists() else ""
    stress = previous[previous.find(STRESS_BEGIN) :] if STRESS_BEGIN in previous else ""
    rendered = render(combined, PLOT.relative_to(REPO_ROOT).as_posix() if plotted else None)
    MARKDOWN.write_text(rendered + ("\n" + stress if stress else ""))
    print(f"\nwrote {MARKDOWN}" + (f", {PLOT}" if plotted else " (plot skipped: no matplotlib)"))
    if not args.from_json:
        print(f"numbers: {RESULTS / 'benchmarks.json'}")
    for bar in [*bars(combined), *report_health.bars(combined, ratio_rows(combined))]:
        print(f"  {'met    ' if bar['met'] else 'NOT MET'}  {bar['bar']}: {bar['figure']}")
    parts = [
        *combined["runtime"].values(),
        combined["hunt"],
        combined.get("gallery", {}),
        combined["peers"],
        combined.get("cli", {}),
        combined.get("longrun", {}),
    ]
    failed = [part for part in parts if part.get("exit_status")]
    if failed:
        print(f"{len(failed)} part(s) exited with an error; see their sections in {MARKDOWN}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
