"""BENCHMARKS.md sections for issue 13 (first failure, cold CLI) and issue 12 (long runs).

`report.py` renders the rest; this module turns bench_peers' new peers (interleave-test,
pytest-run-parallel, the hunts bounded to the peers' scenarios), bench_cli and bench_longrun
into bars and tables, from the same combined JSON.
"""

from __future__ import annotations

from typing import Any

import bench_peers

#: Issue 13's bars.
TTF_RATIO_BAR = 0.5
TTF_AIM_SECONDS = 0.005
CLI_BAR_SECONDS = 0.350
RATE_BAR = 10.0
#: Issue 12's bars.
RSS_BAR_BYTES = 5 * 2**20
STUCK_BAR = 1.5


def _ms(seconds: float | None) -> str:
    return bench_peers._ms(seconds)


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def _bar(bar: str, figure: str, met: bool) -> dict[str, Any]:
    return {"bar": bar, "figure": figure, "met": met}


def bars(combined: dict[str, Any], ratio_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 13's first-failure bars and issue 12's long-run bars, from this run."""
    by_key = {row["key"]: row for row in ratio_rows}
    keys = bench_peers.scenario_keys()
    out = []
    ttf = [
        by_key.get(f"ttf_hunt_{peer}_{strategy}_{key}")
        for key in keys
        for peer, strategy in (
            ("interleave-test", "random"),
            ("interleave-test", "pct"),
            ("frontrun", "dpor"),
        )
    ]
    measured = [r for r in ttf if r and r["ratio"] is not None]
    out.append(
        _bar(
            f"Warm median time to first failure <= {TTF_RATIO_BAR:g}x interleave-test random "
            "and PCT and frontrun DPOR, 2x1 and 2x3, Python 3.12",
            "; ".join(
                f"{r['what'].split()[0]} vs {' '.join(r['what'].split()[-2:])}: "
                f"{_ms(r['ours'])} / {_ms(r['theirs'])} = {r['ratio']:.2f}"
                for r in measured
            )
            or "not measured",
            len(measured) == len(ttf) and all(r["ratio"] <= TTF_RATIO_BAR for r in measured),
        )
    )
    hunts = combined["peers"].get("harness_hunt_scenarios", {})
    medians = {k: h["seconds_to_first_median"] for k, h in hunts.items()}
    out.append(
        _bar(
            f"Aim: warm median time to first failure <= {TTF_AIM_SECONDS * 1000:g} ms",
            "; ".join(f"{k}: {_ms(v)}" for k, v in medians.items()) or "not measured",
            bool(medians) and all(v is not None and v <= TTF_AIM_SECONDS for v in medians.values()),
        )
    )
    cli = combined.get("cli", {}).get("measurements", [])
    walls = [
        (m["python"], c["wall"]["median"])
        for m in cli
        for label, c in m["cells"].items()
        if label.startswith("harness hunt")
    ]
    out.append(
        _bar(
            f"Cold CLI `harness hunt backoffer.unsafe --no-shrink` <= {CLI_BAR_SECONDS * 1000:g} "
            "ms, interpreter start-up included",
            "; ".join(f"Python {v}: median {_ms(w)}" for v, w in walls) or "not measured",
            bool(walls) and all(w <= CLI_BAR_SECONDS for _, w in walls),
        )
    )
    rate = [by_key.get(f"rate_opcode_{peer}_{key}") for key in keys for peer, _ in PEER_RATES]
    measured = [r for r in rate if r and r["ratio"] is not None]
    out.append(
        _bar(
            f"Executions/s at opcode >= {RATE_BAR:g}x frontrun random and interleave-test random, "
            "2x1 and 2x3",
            "; ".join(
                f"{r['what'].split()[0]} vs {r['what'].split(' vs ')[1].split(' random')[0]}: "
                f"{r['ours']:,.0f} / {r['theirs']:,.0f} = {r['ratio']:.1f}x"
                for r in measured
            )
            or "not measured",
            len(measured) == len(rate) and all(r["ratio"] >= RATE_BAR for r in measured),
        )
    )
    memory = combined.get("longrun", {}).get("memory")
    out.append(
        _bar(
            "RSS grows < 5 MB over 1,000 hunts in one process (300 failing, 700 clean)",
            "not measured"
            if not memory
            else f"{memory['rss_growth_bytes'] / 2**20:.2f} MiB after the first "
            f"{memory['warm_after']} ({memory['rss_growth_per_hunt_bytes'] / 1024:.2f} KiB per "
            f"hunt); live Observers {memory['end']['observers']}, Failures "
            f"{memory['end']['failures']} at the end",
            bool(memory) and memory["rss_growth_bytes"] < RSS_BAR_BYTES,
        )
    )
    stuck = combined.get("longrun", {}).get("stuck", {})
    ratios = [(k, stuck[k].get("ratio_to_fresh")) for k in ("spin", "block") if k in stuck]
    out.append(
        _bar(
            f"A hunt after 20 stuck hunts within {STUCK_BAR:g}x of a fresh process",
            "; ".join(
                f"{k}: {'-' if r is None else f'{r:.2f}x'} ({stuck[k].get('abandoned_alive')} "
                "abandoned threads alive)"
                for k, r in ratios
            )
            or "not measured",
            bool(ratios) and all(r is not None and r <= STUCK_BAR for _, r in ratios),
        )
    )
    return out


#: The peers whose random strategy gives the opcode-level executions/s.
PEER_RATES = (("frontrun", "frontrun_summary"), ("interleave-test", "interleave_summary"))


def sections(combined: dict[str, Any]) -> list[str]:
    """Tables: the bounded hunts, interleave-test, pytest-run-parallel, cold CLI, long runs."""
    peers = combined["peers"]
    lines: list[str] = []
    hunts = peers.get("harness_hunt_scenarios", {})
    if hunts:
        lines += [
            "## The hunt on the peers' scenarios (Python " + str(peers.get("python")) + ")",
            "",
            "`hunt()` of the Backoffer model bounded to rounds of 2 workers making 1 (2x1) or "
            "1..3 (2x3) calls, access points, no shrinking, seeds 0, 1, ... for half the cell "
            "time after an untimed warm-up. Time to first failure: from the hunt's start to "
            "the failing check (smoke phase, Hypothesis set-up, World and pool included); "
            "whole hunt: the call's wall time (replay with values and the result included).",
            "",
        ]
        lines += _table(
            [
                "scenario",
                "found",
                "examples to first (median)",
                "time to first (median / max)",
                "whole hunt (median)",
            ],
            [
                [
                    key,
                    f"{h['found']}/{h['seeds']}",
                    bench_peers._f(h["examples_to_first_median"]),
                    f"{_ms(h['seconds_to_first_median'])} / {_ms(h['seconds_to_first_max'])}",
                    _ms(h["wall_seconds_median"]),
                ]
                for key, h in hunts.items()
            ],
        )
    il = peers.get("interleave", {})
    lines += ["## interleave-test", ""]
    if "error" in il or not il:
        lines += [f"Not measured: {il.get('error', 'no data')}.", ""]
    else:
        lines += [
            f"interleave-test {il['version']} on Python {il['python']}, its own virtualenv, in a "
            "subprocess (bench/peer_interleave.py): the model spawns the workers with "
            "`interleave_test.spawn` on a fresh Backoffer, joins them and asserts the "
            "lost-update check; opcode granularity (its default). Random and PCT: seeds 0-"
            f"{il['options']['seeds'] - 1}, at most {il['options']['attempts']} schedules each; "
            f"DFS: {il['options']['dfs_reps']} runs (deterministic); executions/s from "
            f"{il['options']['rate_attempts']} random schedules with no check.",
            "",
        ]
        rows = []
        for key, e in peers.get("interleave_summary", {}).items():
            for strategy in ("random", "pct", "dfs"):
                s = e[strategy]
                rows.append(
                    [
                        key,
                        strategy,
                        f"{s['found']}/{s['tries']}",
                        bench_peers._f(s["executions_to_first_median"]),
                        _ms(s["seconds_to_first_median"]),
                        bench_peers._f(e.get("random_executions_per_s"), ",.0f")
                        if strategy == "random"
                        else "-",
                    ]
                )
        lines += _table(
            [
                "scenario",
                "strategy",
                "found",
                "schedules to first",
                "time to first",
                "executions/s",
            ],
            rows,
        )
        ex_rows = [
            [
                key,
                e["locked_dfs"]["executions"],
                f"{e['locked_dfs']['seconds']:.2f} s",
                "yes" if e["locked_dfs"]["exhausted"] else f"no ({e['locked_dfs']['cap']:g} s cap)",
            ]
            for key, e in peers.get("interleave_summary", {}).items()
            if "locked_dfs" in e
        ]
        lines += ["DFS (preemption bound 2) exhausting the `LockedBackoffer`:", ""]
        lines += _table(["scenario", "schedules", "time", "exhausted"], ex_rows)
    rp = peers.get("runparallel", {})
    lines += ["## pytest-run-parallel (real threads)", ""]
    if "error" in rp or not rp:
        lines += [f"Not measured: {rp.get('error', 'no data')}.", ""]
    else:
        lines += [
            f"pytest-run-parallel {rp['version']} (pytest {rp['pytest']}, Python {rp['python']}, "
            "bench/peer_runparallel.py): one parametrized test case per run, its N threads "
            "sharing one fresh Backoffer through a function-scoped fixture whose teardown "
            "applies the lost-update check; the plugin sets the switch interval itself "
            f"(recorded below); {rp['options']['seconds']:g} s per cell. This is stress: "
            "no scheduler, so what it finds depends on the machine's load (stated per cell).",
            "",
        ]
        lines += _table(
            [
                "threads x calls",
                "runs",
                "detected",
                "of runs",
                "runs/s",
                "switch interval",
                "load average",
            ],
            [
                [
                    f"{c['threads']}x{c['calls']}",
                    f"{c['runs']:,}",
                    c["found"],
                    bench_peers._f(c["share"], ".2%"),
                    bench_peers._f(c["runs_per_s"], ",.0f"),
                    bench_peers._f(c["switch_interval"], "g"),
                    "/".join(f"{x:.2f}" for x in c["loadavg"]),
                ]
                for c in rp["cells"]
            ],
        )
    cli = combined.get("cli", {})
    if cli.get("measurements"):
        lines += [
            "## Cold command line",
            "",
            f"bench/bench_cli.py: each run a new process, {cli['runs']} runs after an untimed "
            "one (bytecode caches written, as after a user's first run); wall and CPU time "
            "(user + system of the child), median (min-max). Load average "
            + "/".join(f"{x:.2f}" for x in cli["loadavg_before"])
            + " before.",
            "",
        ]
        lines += _table(
            ["Python", "command", "wall", "cpu"],
            [
                [
                    m["python"],
                    f"`{label}`",
                    f"{_ms(c['wall']['median'])} ({_ms(c['wall']['min'])}-{_ms(c['wall']['max'])})",
                    _ms(c["cpu"]["median"]),
                ]
                for m in cli["measurements"]
                for label, c in m["cells"].items()
            ],
        )
    lr = combined.get("longrun", {})
    if lr.get("memory") or lr.get("stuck"):
        lines += ["## Long runs", ""]
        m = lr.get("memory")
        if m:
            lines += [
                f"bench/bench_longrun.py on Python {lr['python']}: {m['hunts']} hunts in one "
                f"process, {m['failing']} failing (unsafe Backoffer, no shrinking) and "
                f"{m['hunts'] - m['failing']} clean (locked Backoffer, {m['clean_examples']} "
                f"examples each), in {m['seconds']:.0f} s. RSS after the first "
                f"{m['warm_after']} hunts: {m['warm']['rss'] / 2**20:.1f} MiB; at the end: "
                f"{m['end']['rss'] / 2**20:.1f} MiB; growth {m['rss_growth_bytes'] / 2**20:.2f} "
                f"MiB. Live `Observer` / `Failure` objects: {m['warm']['observers']} / "
                f"{m['warm']['failures']} then {m['end']['observers']} / "
                f"{m['end']['failures']}.",
                "",
            ]
        s = lr.get("stuck")
        if s:
            lines += [
                "After 20 hunts whose worker got stuck outside instrumented code (spin: a busy "
                "loop; block: a real lock's acquire, in C), 10 shrinking hunts of the unsafe "
                "Backoffer, against a fresh process doing the same (each its own subprocess):",
                "",
            ]
            lines += _table(
                [
                    "case",
                    "20 stuck hunts",
                    "10 hunts after",
                    "x fresh",
                    "abandoned alive",
                    "threads",
                ],
                [
                    [
                        kind,
                        "-" if kind == "fresh" else f"{c['stuck_seconds']:.1f} s",
                        f"{c['reference_seconds']:.2f} s",
                        "-" if c.get("ratio_to_fresh") is None else f"{c['ratio_to_fresh']:.2f}",
                        c["abandoned_alive"],
                        c["threads"],
                    ]
                    for kind, c in s.items()
                    if "error" not in c
                ],
            )
    return lines
