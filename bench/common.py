"""Small helpers shared by the bench scripts, so that every table summarises numbers alike.

Importing this module puts the repository root on `sys.path` and makes the gallery importable as
``harness_gallery`` (the name it is installed under): the scripts run from a checkout (``python
bench/<script>.py``) with no installation, under any of the pyenv interpreters.
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def _gallery_from_checkout() -> None:
    """Make ``harness_gallery`` importable where the harness is not installed (the peers' own
    virtualenvs): the repository's ``models/`` folder is the package installed under that name."""
    if importlib.util.find_spec("harness_gallery") is not None:
        return
    folder = REPO_ROOT / "models"
    spec = importlib.util.spec_from_file_location(
        "harness_gallery", folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["harness_gallery"] = module
    spec.loader.exec_module(module)


_gallery_from_checkout()


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank `q` quantile: an observed value, not an interpolation between two."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spread(values: list[float]) -> dict[str, Any]:
    """Count, median, 90th percentile and max of `values` (the Nones of an empty list)."""
    if not values:
        return {"n": 0, "median": None, "p90": None, "max": None}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": percentile(values, 0.9),
        "max": max(values),
    }


def waits(found_at: list[float]) -> list[float]:
    """Times to each detection from the previous one (the first from the start).

    A tool that keeps running after a detection restarts its wait for the next: these waits
    are its time-to-first-failure samples, as if it had been started afresh each time.
    """
    return [b - a for a, b in zip([0.0, *found_at], found_at, strict=False)]


def loadavg() -> list[float]:
    """The 1/5/15-minute load average: other processes' share of the CPUs during a run."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else []


def cpu_model() -> str:
    """The CPU's model name (Linux), else whatever `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


#: The line prefix a peer's script (run in the peer's own virtualenv) prints its JSON after.
PEER_MARK = "PEER-JSON "


def emit_peer_json(out: dict[str, Any]) -> None:
    """Print a peer script's results for `bench_peers.run_peer` to pick out of its stdout."""
    import json

    print(PEER_MARK + json.dumps(out), flush=True)
