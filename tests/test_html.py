"""The HTML swimlanes (`harness replay --html`): what each lane shows, from the failure's data,
and the page as headless Chromium renders it (screenshot, element counts, no script error)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.artifact import load, save
from harness.explain import label
from harness.failure import Failure
from harness.html import render_html
from harness.hunt import hunt
from harness.replay import replay_artifact


def _replayed(tmp: Path, model: str, variant: str | None = None, **options: object) -> Failure:
    """The failure as `harness replay --html` sees it: saved, loaded and replayed."""
    found = hunt(model, variant, **options).failure  # type: ignore[arg-type]
    assert found is not None
    ref = model if ":" in model else model.split(".", maxsplit=1)[0]
    outcome = replay_artifact(load(save(found, tmp)), model=ref)
    assert outcome.failure is not None and outcome.reproduced
    return outcome.failure


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Failure, str]]:
    tmp = tmp_path_factory.mktemp("html")
    failures = {
        "lost-update": _replayed(tmp, "backoffer", "unsafe", seed=0),
        "deadlock": _replayed(tmp, "bank", "naive", max_examples=100),
        "linearizability": _replayed(tmp, "tests.targets.registers:TicketModel", seed=0),
    }
    return {name: (f, render_html(f)) for name, f in failures.items()}


def _count(page: str, css: str) -> int:
    return len(re.findall(rf'class="[^"]*\b{re.escape(css)}\b[^"]*"', page))


def test_each_lane_shows_operation_boundaries_with_results(
    pages: dict[str, tuple[Failure, str]],
) -> None:
    failure, page = pages["lost-update"]
    step = failure.failing_step
    assert step is not None
    assert page.count('class="op start"') == step.total_calls
    assert page.count("backoff(config=&#x27;regionMiss&#x27;) returned None") == step.total_calls
    _failure, deadlocked = pages["deadlock"]
    # A deadlocked call never returns: it says so, and does not show the harness's abort.
    assert deadlocked.count("never returned") == 2 and "RunAborted" not in deadlocked


def test_accesses_show_their_location_and_source_line(
    pages: dict[str, tuple[Failure, str]],
) -> None:
    _failure, page = pages["lost-update"]
    assert 'class="loc">backoffer.py:' in page
    assert '<code class="line">self.backoff_times[cfg.name] = ' in page  # visible, not a title
    assert "harness_gallery.backoffer:" not in page  # locations as the terminal writes them


def test_lock_state_and_blocked_intervals(pages: dict[str, tuple[Failure, str]]) -> None:
    _failure, page = pages["deadlock"]
    assert "acquired Lock bank.py:15#" in page
    assert re.search(r"waiting on Lock bank\.py:15#\d, held by worker [01]", page)
    assert _count(page, "waiting") >= 2 and _count(page, "blocked") >= 1
    _f, lost = pages["lost-update"]
    assert "released Lock backoffer.py:" in lost


def test_arrows_for_hand_offs_conflicts_and_the_wait_for_cycle(
    pages: dict[str, tuple[Failure, str]],
) -> None:
    failure, page = pages["lost-update"]
    step = failure.failing_step
    assert step is not None
    kinds = re.findall(r'data-kind="([\w-]+)"', page)
    assert kinds.count("preempt") == len(step.taken) and "conflict" in kinds
    for p in step.taken:
        assert f'data-from="ev-{p.step}"' in page
    deadlock, cyclic = pages["deadlock"]
    waits = re.findall(r'data-kind="wait-for"', cyclic)
    assert len(waits) == len(deadlock.hang.waiters) == 2
    assert "worker 0 \u2192 worker 1 \u2192 worker 0" in cyclic


def test_linearizability_shows_observed_against_required(
    pages: dict[str, tuple[Failure, str]],
) -> None:
    failure, page = pages["linearizability"]
    verdict = failure.linearization
    assert verdict is not None and verdict.blocked
    assert "observed results against the sequential order required" in page
    assert page.count('<tr class="bad">') == len(verdict.blocked)
    record, expected = verdict.blocked[-1]
    assert f"the reference {expected}" in page and f"returned {record.result!r}" in page


def test_set_up_steps_before_the_round_are_listed() -> None:
    import dataclasses

    from harness.failure import Step

    failure = hunt("counter", "unsafe", max_examples=50).failure
    assert failure is not None
    setup = Step("sequential", [[("hit", {})]])
    page = render_html(dataclasses.replace(failure, scenario=[setup, *failure.scenario]))
    assert "Set-up: sequential calls before the round" in page
    assert '<li class="setup-step">hit()' in page
    assert "Set-up" not in render_html(failure)


def test_locations_are_written_as_in_the_terminal() -> None:
    assert label("Lock harness_gallery.bank:15#1 at harness_gallery.bank:23") == (
        "Lock bank.py:15#1 at bank.py:23"
    )
    assert label("at tally.py:6") == "at tally.py:6"  # already a file name: left alone


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, check=False, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.skipif(CHROMIUM is None, reason="no headless chromium installed")
@pytest.mark.parametrize("name", ["lost-update", "deadlock", "linearizability"])
def test_the_page_renders_in_a_real_browser(
    tmp_path: Path, pages: dict[str, tuple[Failure, str]], name: str
) -> None:
    failure, page = pages[name]
    path = tmp_path / f"{name}.html"
    path.write_text(page, encoding="utf-8")
    shot = tmp_path / f"{name}.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,1000", path.as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000
    dom = _chromium(tmp_path, "--dump-dom", path.as_uri())
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body is not None, dom.stderr[-2000:]
    assert "data-errors" not in body.group(0), body.group(0)  # no script error on the page
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr, dom.stderr[-2000:]
    drawn = re.search(r'data-arrows="(\d+)"', body.group(0))
    visible = [
        m for m in re.finditer(r'data-from="ev-(\d+)" data-to="ev-(\d+)"', page)
    ]  # every arrow whose two ends are rows that matter is drawn
    assert drawn is not None and int(drawn.group(1)) >= 1 and len(visible) >= int(drawn.group(1))
    workers = failure.failing_step.workers if failure.failing_step else 1
    assert dom.stdout.count('class="head"') == workers


def test_conflict_arrows_follow_the_order_accesses_took_effect(
    pages: dict[str, tuple[Failure, str]],
) -> None:
    """A worker preempted at its write point writes only when it runs again: the arrow goes
    from the other worker's write to it, not from it to the other's read."""
    failure, page = pages["linearizability"]
    step = failure.failing_step
    assert step is not None and len(step.taken) == 1
    preempted = str(step.taken[0].step)
    conflicts = re.findall(r'data-from="ev-(\d+)" data-to="ev-(\d+)" data-kind="conflict"', page)
    assert conflicts and all(source != preempted for source, _to in conflicts), conflicts
    assert any(to == preempted for _source, to in conflicts), conflicts
