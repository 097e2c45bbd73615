"""A self-contained HTML page for one counterexample: threads as swimlanes over time.

One file, no network: inline CSS and a few lines of inline script (a toggle between the rows
that matter and every scheduling point). Each worker is a lane; time runs down the page; the
accesses the failure is about are highlighted, and every preemption is drawn as a hand-over
arrow to the lane that runs next.
"""

from __future__ import annotations

import html
from pathlib import Path

from harness.errors import UsageError
from harness.explain import explain, relevant_rows, source_line
from harness.failure import Failure

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2230; background: #fafbfc; }
h1 { font-size: 20px; margin: 0 0 4px; }
.why { background: #fff4e5; border-left: 4px solid #e8590c; padding: 10px 14px; margin: 12px 0;
       white-space: pre-wrap; }
.scenario { background: #eef2f7; padding: 10px 14px; white-space: pre-wrap;
            font-family: ui-monospace, monospace; font-size: 12px; }
.lanes { display: grid; gap: 0 12px; margin-top: 16px; }
.head { font-weight: 600; padding: 6px 8px; background: #1d2230; color: #fff;
        border-radius: 4px 4px 0 0; position: sticky; top: 0; }
.step { font-family: ui-monospace, monospace; font-size: 12px; color: #7a8194;
        padding: 3px 4px; text-align: right; }
.cell { font-family: ui-monospace, monospace; font-size: 12px; padding: 3px 8px;
        border-left: 3px solid #d5dae3; min-height: 1.2em; }
.ev { background: #fff; border: 1px solid #d5dae3; border-radius: 3px; padding: 2px 6px; }
.ev .src { color: #7a8194; }
.conflict .ev { background: #ffe3e3; border-color: #e03131; }
.write .ev { font-weight: 600; }
.preempt .ev::after { content: "  \\21E2 preempted: worker " attr(data-to) " runs";
                      color: #e8590c; font-weight: 600; }
.row { display: contents; }
.row.minor { display: none; }
body.all .row.minor { display: contents; }
button { margin-top: 12px; }
"""

_SCRIPT = """
document.getElementById('toggle').onclick = function () {
  document.body.classList.toggle('all');
  this.textContent = document.body.classList.contains('all')
    ? 'Show only the rows that matter' : 'Show every scheduling point';
};
"""


def render_html(failure: Failure) -> str:
    """The page as a string."""
    step = failure.failing_step
    workers = step.workers if step is not None and step.kind == "round" else 1
    preempted = {p.step: p.target for p in step.taken} if step is not None else {}
    relevant = {e.step for e in relevant_rows(failure)}
    events = list(failure.trace) if failure.trace is not None else []
    esc = html.escape
    rows: list[str] = []
    for e in events:
        classes = ["row"]
        if e.step not in relevant and e.step not in preempted:
            classes.append("minor")
        cells = [f'<div class="step">#{e.step}</div>']
        for lane in range(workers):
            if lane != e.thread:
                cells.append('<div class="cell"></div>')
                continue
            kinds = []
            if e.step in relevant and e.step not in preempted and e.kind in ("read", "write"):
                kinds.append("conflict")
            if e.kind in ("write", "delete"):
                kinds.append("write")
            if e.step in preempted:
                kinds.append("preempt")
            source = source_line(e.location)
            title = esc(f"{e.location}: {source}")
            data_to = f' data-to="{preempted[e.step]}"' if e.step in preempted else ""
            cells.append(
                f'<div class="cell {" ".join(kinds)}"><span class="ev" title="{title}"{data_to}>'
                f"{esc(e.access())} <span class='src'>{esc(e.location)}</span></span></div>"
            )
        inner = "".join(cells)
        rows.append(f'<div class="{" ".join(classes)}">{inner}</div>')
    heads = '<div class="step"></div>' + "".join(
        f'<div class="head">worker {t}</div>' for t in range(workers)
    )
    scenario = failure.describe().split("\n", 2)[2] if "\n" in failure.describe() else ""
    columns = f"60px repeat({workers}, minmax(240px, 1fr))"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{esc(failure.model)}.{esc(failure.variant)}: counterexample</title>
<style>{_STYLE}</style></head>
<body>
<h1>{esc(failure.model)}.{esc(failure.variant)} &mdash; {esc(failure.kind)}</h1>
<div class="why">{esc(explain(failure))}</div>
<div class="scenario">{esc(scenario)}</div>
<button id="toggle">Show every scheduling point</button>
<div class="lanes" style="grid-template-columns: {columns}">{heads}{"".join(rows)}</div>
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
