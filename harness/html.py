"""A self-contained HTML page for one counterexample: threads as swimlanes over time.

One file, no network: inline CSS and a short inline script. Each worker is a lane and time runs
down the page. A lane shows each operation's boundaries (the call with its arguments, then its
return value or exception, or that it never returned), every shown access with its location
(``file.py:line``, as in the terminal) and its source line, lock state (acquired, waiting on,
released, by the lock's name) and the intervals a worker spent blocked. Arrows show who runs
next at every hand-off (a preemption, a block, a wake-up), join the conflicting accesses the
failure is about, and, for a deadlock, draw the wait-for cycle between the lanes. A
linearizability failure shows what the calls returned next to the sequential order the
reference needed. The set-up steps that ran before the round are listed above it.

Everything is computed here from the failure's data (trace, scenario, results, hang report);
every sentence comes from the one reporter (`harness.report`, `harness.explain`). The script
only draws the arrows between elements the page already holds, so the page reads without it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import report
from harness.errors import UsageError
from harness.explain import (
    Namer,
    _location,
    _short,
    explain,
    label,
    namer,
    relevant_rows,
    source_line,
    thread_names,
)
from harness.failure import Failure, Step
from harness.runtime.trace import TraceEvent

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2230; background: #fafbfc; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 18px 0 6px; }
.why { background: #fff4e5; border-left: 4px solid #e8590c; padding: 10px 14px; margin: 12px 0;
       white-space: pre-wrap; }
.mono, .setup li, .lin td, .cycle { font-family: ui-monospace, monospace; font-size: 12px; }
.setup { background: #eef2f7; padding: 6px 14px 6px 34px; margin: 0; }
.lin { border-collapse: collapse; margin: 4px 0 8px; }
.lin td, .lin th { border: 1px solid #d5dae3; padding: 3px 8px; text-align: left; }
.lin .bad { background: #ffe3e3; }
.cycle { background: #ffe3e3; padding: 6px 10px; display: inline-block; }
.lanes { display: grid; gap: 0 18px; margin-top: 16px; position: relative; }
.head { font-weight: 600; padding: 6px 8px; background: #1d2230; color: #fff;
        border-radius: 4px 4px 0 0; position: sticky; top: 0; z-index: 2; }
.step { font-family: ui-monospace, monospace; font-size: 12px; color: #7a8194;
        padding: 3px 4px; text-align: right; }
.cell { font-family: ui-monospace, monospace; font-size: 12px; padding: 3px 8px;
        border-left: 3px solid #d5dae3; min-height: 1.2em; }
.cell.blocked { background: repeating-linear-gradient(45deg, #f1f3f5, #f1f3f5 6px,
                #dee2e6 6px, #dee2e6 12px); border-left-color: #868e96; }
.ev { display: inline-block; background: #fff; border: 1px solid #d5dae3; border-radius: 3px;
      padding: 2px 6px; }
.ev .loc { color: #495057; font-weight: 600; }
.ev .line { display: block; color: #7a8194; }
.conflict .ev { background: #ffe3e3; border-color: #e03131; }
.write .ev .what { font-weight: 600; }
.lock .ev { border-color: #1971c2; }
.lock.waiting .ev { background: #fff3bf; border-color: #f08c00; }
.state { display: block; color: #1971c2; }
.waiting .state { color: #e8590c; font-weight: 600; }
.op { font-family: ui-monospace, monospace; font-size: 12px; padding: 3px 8px;
      border-left: 3px solid #2f9e44; }
.op .call { background: #d3f9d8; border-radius: 3px; padding: 2px 6px; }
.op.end .call { background: #e7f5ff; }
.op.end.raised .call, .op.end.never .call { background: #ffe3e3; }
.handoff { display: block; color: #e8590c; font-weight: 600; }
.row { display: contents; }
.row.minor { display: none; }
body.all .row.minor { display: contents; }
svg.arrows { position: absolute; left: 0; top: 0; pointer-events: none; overflow: visible; }
svg .preempt, svg .block, svg .wake, svg .finish { stroke: #e8590c; }
svg .conflict { stroke: #e03131; stroke-dasharray: 4 3; }
svg .wait-for { stroke: #c2255c; stroke-width: 2.5; }
.legend span { margin-right: 14px; font-size: 12px; }
button { margin-top: 12px; }
"""

_SCRIPT = """
window.addEventListener('error', function (e) {
  document.body.dataset.errors = (document.body.dataset.errors || '') + e.message + ';';
});
function drawArrows() {
  var lanes = document.querySelector('.lanes');
  var svg = lanes.querySelector('svg.arrows');
  while (svg.lastChild && svg.lastChild.tagName !== 'defs') { svg.removeChild(svg.lastChild); }
  var box = lanes.getBoundingClientRect();
  svg.setAttribute('width', box.width);
  svg.setAttribute('height', box.height);
  var drawn = 0;
  document.querySelectorAll('.arrow').forEach(function (a) {
    var from = document.getElementById(a.dataset.from);
    var to = document.getElementById(a.dataset.to);
    if (!from || !to || !from.offsetParent || !to.offsetParent) { return; }
    var f = from.getBoundingClientRect(), t = to.getBoundingClientRect();
    var x1 = (f.left < t.left ? f.right : f.left) - box.left;
    var x2 = (f.left < t.left ? t.left : t.right) - box.left;
    if (Math.abs(f.left - t.left) < 4) { x1 = f.right - box.left; x2 = t.right - box.left + 6; }
    var y1 = f.top + f.height / 2 - box.top, y2 = t.top + t.height / 2 - box.top;
    var line = document.createElementNS(svg.namespaceURI, 'path');
    var bend = Math.abs(f.left - t.left) < 4 ? 30 : 0;
    line.setAttribute('d', 'M' + x1 + ' ' + y1 + ' C' + (x1 + bend) + ' ' + y1 + ' ' +
                      (x2 + bend) + ' ' + y2 + ' ' + x2 + ' ' + y2);
    line.setAttribute('class', a.dataset.kind);
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke-width', '1.6');
    line.setAttribute('marker-end', 'url(#head-' + a.dataset.kind + ')');
    var title = document.createElementNS(svg.namespaceURI, 'title');
    title.textContent = a.textContent;
    line.appendChild(title);
    svg.appendChild(line);
    drawn += 1;
  });
  document.body.dataset.arrows = drawn;
}
document.getElementById('toggle').onclick = function () {
  document.body.classList.toggle('all');
  this.textContent = document.body.classList.contains('all')
    ? 'Show only the rows that matter' : 'Show every scheduling point';
  drawArrows();
};
window.addEventListener('resize', drawArrows);
drawArrows();
"""

_MARKERS = "".join(
    f'<marker id="head-{kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
    f'markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" '
    f'fill="{colour}"/></marker>'
    for kind, colour in (
        ("preempt", "#e8590c"),
        ("block", "#e8590c"),
        ("wake", "#e8590c"),
        ("finish", "#e8590c"),
        ("conflict", "#e03131"),
        ("wait-for", "#c2255c"),
    )
)


@dataclass
class _Arrow:
    source: str
    target: str
    kind: str  # preempt | block | wake | finish | conflict | wait-for
    text: str


@dataclass
class _Lanes:
    """What each row of the swimlanes shows, computed from the trace before any HTML."""

    who: Namer  # how the round's threads are named: "worker 0", "thread 2"
    lock_state: dict[int, str] = field(default_factory=dict)  # step -> "acquired L" ...
    waiting: set[int] = field(default_factory=set)  # steps of an acquire that blocked
    blocked: dict[int, set[int]] = field(default_factory=dict)  # step -> blocked workers
    handoff: dict[int, str] = field(default_factory=dict)  # step -> "preempted: worker 1 runs"
    arrows: list[_Arrow] = field(default_factory=list)
    shown: set[int] = field(default_factory=set)  # steps that must stay visible


def _analyse(failure: Failure, events: list[TraceEvent]) -> _Lanes:
    """Lock state, blocked intervals and hand-offs, by walking the trace once."""
    lanes = _Lanes(namer(failure))
    step = failure.failing_step
    preempted = {p.step: p.target for p in step.taken} if step is not None else {}
    holder: dict[str, int] = {}
    waiting_for: dict[int, tuple[str, int]] = {}  # worker -> (lock, step it blocked at)
    last_release: dict[str, int] = {}
    blocked_since: dict[int, int] = {}
    previous: TraceEvent | None = None
    remaining = {e.thread: 0 for e in events}
    for e in events:
        remaining[e.thread] += 1
    for e in events:
        remaining[e.thread] -= 1
        if e.thread in waiting_for:  # it runs again: it got the lock it waited for
            lock, _at = waiting_for.pop(e.thread)
            holder[lock] = e.thread
            lanes.lock_state.setdefault(e.step, f"now holds {label(lock)}")
            if lock in last_release:
                lanes.arrows.append(
                    _Arrow(f"ev-{last_release[lock]}", f"ev-{e.step}", "wake",
                           f"{label(lock)} released: {lanes.who(e.thread)} wakes up")
                )  # fmt: skip
                lanes.shown |= {last_release[lock], e.step}
        blocked_since.pop(e.thread, None)
        if previous is not None and previous.thread != e.thread:
            _hand_off(lanes, previous, e, preempted, remaining, blocked_since)
        if e.kind == "acquire":
            owner = holder.get(e.target)
            if owner is None or owner == e.thread:
                holder[e.target] = e.thread
                lanes.lock_state[e.step] = f"acquired {label(e.target)}"
            else:
                waiting_for[e.thread] = (e.target, e.step)
                lanes.waiting.add(e.step)
                lanes.lock_state[e.step] = (
                    f"waiting on {label(e.target)}, held by {lanes.who(owner)}"
                )
        elif e.kind == "release":
            holder.pop(e.target, None)
            last_release[e.target] = e.step
            lanes.lock_state[e.step] = f"released {label(e.target)}"
        for worker in blocked_since:
            lanes.blocked.setdefault(e.step, set()).add(worker)
        previous = e
    _wait_for_cycle(failure, events, lanes)
    return lanes


def _hand_off(
    lanes: _Lanes,
    previous: TraceEvent,
    e: TraceEvent,
    preempted: dict[int, int],
    remaining: dict[int, int],
    blocked_since: dict[int, int],
) -> None:
    """The arrow from the last point of one worker to the first of the next one to run."""
    if previous.step in preempted:
        kind, text = "preempt", f"preempted: {lanes.who(e.thread)} runs"
    elif remaining[previous.thread] > 0 or previous.step in lanes.waiting:
        kind, text = "block", f"blocked: {lanes.who(e.thread)} runs"
        blocked_since[previous.thread] = previous.step
    else:
        kind, text = "finish", f"done: {lanes.who(e.thread)} runs"
    lanes.handoff[previous.step] = text
    lanes.arrows.append(_Arrow(f"ev-{previous.step}", f"ev-{e.step}", kind, text))
    lanes.shown |= {previous.step, e.step}


def _wait_for_cycle(failure: Failure, events: list[TraceEvent], lanes: _Lanes) -> None:
    """A deadlock's waiters: an arrow from each blocked acquire to where its lock was taken."""
    waiters = getattr(failure.hang, "waiters", None) or ()
    for waiter in waiters:
        mine = [e for e in events if e.thread == waiter.thread and e.kind == "acquire"]
        taken = [
            e
            for e in events
            if e.thread == waiter.held_by and e.kind == "acquire" and e.target == waiter.waits_for
        ]
        if not mine or not taken:
            continue
        text = (
            f"{lanes.who(waiter.thread)} waits for {label(waiter.waits_for)}, held by "
            f"{lanes.who(waiter.held_by)}"
        )
        lanes.arrows.append(_Arrow(f"ev-{mine[-1].step}", f"ev-{taken[-1].step}", "wait-for", text))
        lanes.shown |= {mine[-1].step, taken[-1].step}


def _conflicts(
    rows: list[TraceEvent], events: list[TraceEvent], preempted: set[int], who: Namer
) -> list[_Arrow]:
    """Arrows between the conflicting accesses among the rows that matter: the same state,
    different workers, one of them a write, in the order they took effect. A point comes
    before its access, so a worker preempted at a write does it only when it runs again."""
    resumes: dict[int, float] = {}
    pending: dict[int, int] = {}
    for e in events:
        if e.thread in pending:
            resumes[pending.pop(e.thread)] = e.step - 0.5
        if e.step in preempted:
            pending[e.thread] = e.step
    arrows = []
    last: dict[Any, TraceEvent] = {}
    for e in sorted(rows, key=lambda r: resumes.get(r.step, float(r.step))):
        loc = _location(e)
        if loc is None:
            continue
        key = (loc.obj, loc.attr)
        before = last.get(key)
        if before is not None and before.thread != e.thread and "write" in (before.kind, e.kind):
            text = f"{who(before.thread)} {before.happened()}, then {who(e.thread)} {e.access()}"
            arrows.append(_Arrow(f"ev-{before.step}", f"ev-{e.step}", "conflict", text))
        last[key] = e
    return arrows


def _boundaries(
    step: Step | None, rounds: list[Step], history: list[Any]
) -> dict[tuple[int, int], list[str]]:
    """Operation boundaries: ``(worker, own point count)`` -> the calls that begin or end
    there, as ``("start"|"end", text, css)``; the round's results come from its records."""
    marks: dict[tuple[int, int], list[str]] = {}
    if step is None or step.kind != "round":
        return marks
    # A round's calls are recorded as they return, after every call of the rounds before it.
    earlier = 0
    for one in rounds:
        if one is step:
            break
        earlier += one.total_calls
    results: dict[int, list[Any]] = {}
    for record in [r for r in history if r.worker is not None][earlier:]:
        results.setdefault(record.worker, []).append(record)
    for worker, calls in enumerate(step.calls):
        points = step.call_points[worker] if worker < len(step.call_points) else []
        done = results.get(worker, [])
        for index, (op, args) in enumerate(calls):
            start = points[index] if index < len(points) else None
            end = points[index + 1] if index + 1 < len(points) else None
            call = report.call_text(op, args)
            marks.setdefault((worker, (start or 0) + 1), []).append(f"start|{call}")
            record = done[index] if index < len(done) else None
            if record is None or type(record.error).__name__ == "RunAborted":
                # Still running when the round ended: a hang stopped it (the runtime aborts
                # the workers of a deadlocked round), so it never returned.
                marks.setdefault((worker, -1), []).append(f"never|{call}: never returned")
            else:
                css = "raised" if record.error is not None else "returned"
                text = f"{call} {report.outcome_text(record)}"
                marks.setdefault((worker, end if end is not None else -1), []).append(
                    f"{css}|{text}"
                )
    return marks


def _setup(failure: Failure) -> str:
    """The sequential steps before the round, each with what it returned."""
    race = failure.race
    items = []
    records = [r for r in failure.history if r.worker is None]
    for step in failure.scenario:
        if step is race:
            break
        if step.kind != "sequential":
            text = step.describe()
        else:
            op, args = step.calls[0][0]
            record = records.pop(0) if records else None
            outcome = f" {report.outcome_text(record)}" if record is not None else ""
            text = report.call_text(op, args) + outcome
        items.append(f'<li class="setup-step">{html.escape(text)}</li>')
    if not items:
        return ""
    return (
        f'<h2>Set-up: sequential calls before the round</h2><ol class="setup">{"".join(items)}</ol>'
    )


def _linearizability(failure: Failure) -> str:
    """Observed results next to the sequential order the reference would have needed."""
    verdict = failure.linearization
    if verdict is None:
        return ""
    esc = html.escape
    rows = [f"<tr><td>{i}</td><td>{esc(report.record_text(r))}</td><td>explained</td></tr>"
            for i, r in enumerate(verdict.prefix, 1)]  # fmt: skip
    nxt = len(verdict.prefix) + 1
    for record, expected in verdict.blocked:
        rows.append(
            f'<tr class="bad"><td>{nxt}?</td><td>{esc(report.record_text(record))}</td>'
            f"<td>the reference {esc(expected)}</td></tr>"
        )
    return (
        "<h2>Linearizability: observed results against the sequential order required</h2>"
        '<table class="lin"><tr><th>order</th><th>observed</th><th>sequential reference</th>'
        f"</tr>{''.join(rows)}</table>"
    )


def _cycle(failure: Failure) -> str:
    waiters = getattr(failure.hang, "waiters", None)
    cycle = getattr(failure.hang, "cycle", None)
    if not waiters or not cycle:
        return ""
    who = namer(failure)
    path = " \u2192 ".join(who(t) for t in cycle)
    lines = "".join(
        f"<br>{who(w.thread)} waits for {html.escape(label(w.waits_for))}"
        + ("" if w.held_by is None else f", held by {who(w.held_by)}")
        + f", at {html.escape(label(w.where))}"
        for w in waiters
    )
    return f'<h2>Deadlock: the wait-for cycle</h2><div class="cycle">{path}{lines}</div>'


def _event_cell(e: TraceEvent, lanes: _Lanes, relevant: set[int], preempted: set[int]) -> str:
    esc = html.escape
    kinds = ["cell"]
    if e.step in relevant and e.step not in preempted and e.kind in ("read", "write"):
        kinds.append("conflict")
    if e.kind in ("write", "delete"):
        kinds.append("write")
    if e.step in lanes.lock_state:
        kinds.append("lock")
    if e.step in lanes.waiting:
        kinds.append("waiting")
    where = _short(e.location)
    line = source_line(e.location)
    state = lanes.lock_state.get(e.step)
    handoff = lanes.handoff.get(e.step)
    return (
        f'<div class="{" ".join(kinds)}"><span class="ev" id="ev-{e.step}">'
        f'<span class="loc">{esc(where)}</span> <span class="what">{esc(label(e.access()))}</span>'
        + (f'<span class="state">{esc(state)}</span>' if state else "")
        + (f'<code class="line">{esc(line)}</code>' if line else "")
        + (f'<span class="handoff">\u21e2 {esc(handoff)}</span>' if handoff else "")
        + "</span></div>"
    )


def _op_row(worker: int, workers: int, marks: list[str]) -> str:
    cells = ['<div class="step"></div>']
    for lane in range(workers):
        if lane != worker:
            cells.append('<div class="cell"></div>')
            continue
        inner = []
        for mark in marks:
            css, text = mark.split("|", 1)
            arrow = "\u25b6 " if css == "start" else "\u25c0 "
            end = "" if css == "start" else " end"
            call = f'<span class="call">{arrow}{html.escape(text)}</span>'
            inner.append(f'<div class="op{end} {css}">{call}</div>')
        cells.append("".join(inner))
    return f'<div class="row">{"".join(cells)}</div>'


def render_html(failure: Failure) -> str:
    """The page as a string."""
    step = failure.failing_step
    names = thread_names(failure, step.workers if step is not None and step.kind == "round" else 1)
    workers = len(names)  # lanes: the round's workers, then the threads the code started
    preempted = {p.step for p in step.taken} if step is not None else set()
    relevant_events = relevant_rows(failure)
    relevant = {e.step for e in relevant_events}
    events = list(failure.trace) if failure.trace is not None else []
    lanes = _analyse(failure, events)
    lanes.arrows += _conflicts(relevant_events, events, preempted, lanes.who)
    marks = _boundaries(step, failure.rounds, failure.history)
    own: dict[int, int] = {}
    rows: list[str] = []
    for e in events:
        own[e.thread] = own.get(e.thread, 0) + 1
        starting = [m for m in marks.get((e.thread, own[e.thread]), []) if m.startswith("start|")]
        if starting:
            rows.append(_op_row(e.thread, workers, starting))
        keep = e.step in relevant or e.step in lanes.shown or e.step in lanes.lock_state
        cells = [f'<div class="step">#{e.step}</div>']
        for lane in range(workers):
            if lane == e.thread:
                cells.append(_event_cell(e, lanes, relevant, preempted))
            elif lane in lanes.blocked.get(e.step, ()):
                cells.append('<div class="cell blocked" title="blocked"></div>')
            else:
                cells.append('<div class="cell"></div>')
        rows.append(f'<div class="row{"" if keep else " minor"}">{"".join(cells)}</div>')
        ending = [m for m in marks.get((e.thread, own[e.thread]), []) if not m.startswith("start|")]
        if ending:
            rows.append(_op_row(e.thread, workers, ending))
    for worker in range(workers):
        if marks.get((worker, -1)):
            rows.append(_op_row(worker, workers, marks[(worker, -1)]))
    return _page(failure, names, rows, lanes.arrows)


def _page(failure: Failure, names: list[str], rows: list[str], arrows: list[_Arrow]) -> str:
    esc = html.escape
    workers = len(names)
    heads = '<div class="step"></div>' + "".join(
        f'<div class="head">{esc(name)}</div>' for name in names
    )
    hidden = "".join(
        f'<span class="arrow" hidden data-from="{a.source}" data-to="{a.target}" '
        f'data-kind="{a.kind}">{esc(a.text)}</span>'
        for a in arrows
    )
    columns = f"60px repeat({workers}, minmax(260px, 1fr))"
    title = f"{esc(failure.model)}.{esc(failure.variant)}"
    legend = (
        '<div class="legend"><span>\u21e2 orange: who runs next (preemption, block, wake-up)'
        "</span><span>red dashes: conflicting accesses</span>"
        "<span>magenta: waits for (deadlock)</span><span>hatched: blocked</span></div>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}: counterexample</title>
<style>{_STYLE}</style></head>
<body>
<h1>{title} &mdash; {esc(failure.kind)}</h1>
<div class="why">{esc(label(explain(failure)))}</div>
{_setup(failure)}
{_linearizability(failure)}
{_cycle(failure)}
<h2>The round: one lane per worker, time runs down</h2>
{legend}
<button id="toggle">Show every scheduling point</button>
<div class="lanes" style="grid-template-columns: {columns}">{heads}{"".join(rows)}
<svg class="arrows"><defs>{_MARKERS}</defs></svg></div>
<div hidden>{hidden}</div>
<script>{_SCRIPT}</script>
</body></html>
"""


def write_html(failure: Failure, path: str) -> Path:
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_html(failure), encoding="utf-8")
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or exc
        raise UsageError(f"cannot write {target}: {reason}") from None
    return target
