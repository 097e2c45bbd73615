"""Why a counterexample fails, in the model's terms, and the interleaving that shows it.

Two products, both computed from the recorded trace (never by re-running anything):

* `explain` -- a few sentences: for a lost update, which read went stale, which write it
  overwrote, on which attribute/key, in which threads, at which lines; for an exception, the
  other thread's conflicting write just before it; for a hang, the runtime's report.
* `interleaving` -- the failing round as a table with one column per worker, in execution
  order, each row an access (with its source line in a legend). By default only the rows that
  matter: accesses to the state the failure message names (falling back to state that several
  threads touch, one of them writing), plus every preemption. ``full=True`` shows every point.
"""

from __future__ import annotations

import importlib.util
import linecache
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache, partial

from harness.failure import Failure, thread_label
from harness.runtime.trace import UNKNOWN, TraceEvent

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VALUE_READERS = ("get", "__getitem__", "setdefault", "pop", "__contains__")


@dataclass(frozen=True)
class Location:
    """A piece of shared state: which object (by trace number) and which attribute/key."""

    obj: int
    attr: str
    key: object = UNKNOWN


def _attr_of(event: TraceEvent) -> str:
    """The attribute an access is about: ``self.d[k]`` -> ``d``, ``self.d.get`` -> ``d``."""
    target = event.target.split("[", 1)[0]
    parts = target.split(".")
    if len(parts) >= 2 and parts[-1] in _VALUE_READERS:
        return parts[-2]
    return parts[-1]


def _location(event: TraceEvent) -> Location | None:
    if event.kind not in ("read", "write", "delete") or not event.obj:
        return None
    return Location(event.obj, _attr_of(event), event.key if "[" in event.target else UNKNOWN)


@cache
def source_line(location: str) -> str:
    """The source text at ``module:line`` (empty if the module's file cannot be found)."""
    module, _, line = location.rpartition(":")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin or not line.isdigit():
        return ""
    return linecache.getline(spec.origin, int(line)).strip()


def _short(location: str) -> str:
    """``backoffer.py:12`` for ``harness_gallery.backoffer:12``; a package's own code is labelled
    ``cachetools/__init__.py:12``, as its file is named."""
    module, _, line = location.rpartition(":")
    return f"{_file_label(module)}:{line}"


_MODULE_LINE = re.compile(r"\b([A-Za-z_][\w.]*):(\d+)\b")


def label(text: str) -> str:
    """Every ``package.module:line`` in `text` as the terminal writes it, ``module.py:line``."""

    def short(match: re.Match[str]) -> str:
        module = match.group(1)
        if module.endswith(".py"):  # already a file name
            return match.group(0)
        return _short(f"{module}:{match.group(2)}")

    return _MODULE_LINE.sub(short, text)


@cache
def _file_label(module: str) -> str:
    last = module.rsplit(".", 1)[-1]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations is not None:
        return f"{last}/__init__.py"
    return f"{last}.py"


def _events(failure: Failure) -> list[TraceEvent]:
    return list(failure.trace) if failure.trace is not None else []


def _in_effect_order(failure: Failure, events: list[TraceEvent]) -> list[TraceEvent]:
    """The events renumbered in the order their accesses took effect.

    A point comes before its instruction: a thread preempted at a write point does the write
    only when it runs again, after the other thread's accesses. Lost-update detection needs
    that order; the interleaving table keeps the points' own step numbers.
    """
    preempted = _preemption_steps(failure)
    if not preempted:
        return events
    later: dict[int, int] = {}  # step of a preempted event -> its thread's next step
    pending: dict[int, int] = {}
    for e in events:
        if e.thread in pending:
            later[pending.pop(e.thread)] = e.step
        if e.step in preempted:
            pending[e.thread] = e.step
    end = (events[-1].step + 1) if events else 0

    def key(e: TraceEvent) -> tuple[float, int]:
        if e.step in preempted:
            return (later.get(e.step, end) - 0.5, e.step)
        return (e.step, 0)

    return [replace(e, step=i) for i, e in enumerate(sorted(events, key=key), 1)]


def _preemption_steps(failure: Failure) -> set[int]:
    step = failure.failing_step
    return {p.step for p in step.taken} if step is not None else set()


def _focus(failure: Failure, events: list[TraceEvent]) -> set[tuple[int, str]]:
    """The shared state a failure is about, as ``(object number, attribute)`` pairs."""
    if failure.kind == "exception":
        conflict = _exception_conflict(failure, events)
        if conflict is not None:
            loc = _location(conflict[1])
            if loc is not None:
                return {(loc.obj, loc.attr)}
    named = set(_IDENT.findall(failure.message))
    lost = _lost_update_events(_in_effect_order(failure, events), named)
    if lost is not None:
        loc = _location(lost[2])
        if loc is not None:
            return {(loc.obj, loc.attr)}
    touched: dict[tuple[int, str], set[int]] = {}
    written: set[tuple[int, str]] = set()
    for e in events:
        loc = _location(e)
        if loc is None:
            continue
        touched.setdefault((loc.obj, loc.attr), set()).add(e.thread)
        if e.kind != "read":
            written.add((loc.obj, loc.attr))
    shared = {k for k, threads in touched.items() if len(threads) > 1 and k in written}
    return {k for k in shared if k[1] in named} or shared


def relevant_rows(failure: Failure) -> list[TraceEvent]:
    """The accesses that matter for this failure, and every preemption.

    Where nothing was captured (``gil`` points are not accesses), the points on source lines
    that mention the state the failure message names stand in for the accesses.
    """
    events = _events(failure)
    preempted = _preemption_steps(failure)
    focus = _focus(failure, events)
    names = {attr for _obj, attr in focus} or set(_IDENT.findall(failure.message))
    mentions = [re.compile(rf"\.{re.escape(n)}\b") for n in names]
    captured = any(_location(e) is not None for e in events)
    rows: list[TraceEvent] = []
    blocking = failure.kind in ("deadlock", "stuck", "livelock")
    for e in events:
        loc = _location(e)
        if e.step in preempted or (blocking and e.kind in ("acquire", "release")):
            keep = True
        elif loc is not None:
            keep = (loc.obj, loc.attr) in focus
        else:
            keep = not captured and any(m.search(source_line(e.location)) for m in mentions)
        if not keep:
            continue
        previous = rows[-1] if rows else None
        if (
            previous is not None
            and previous.step not in preempted
            and e.step not in preempted
            and previous.thread == e.thread
            and previous.kind == e.kind == "read"
            and _location(previous) == loc
        ):
            continue  # the same thread re-reading the same thing adds nothing
        if (
            previous is not None
            and loc is None
            and previous.step not in preempted
            and e.step not in preempted
            and previous.thread == e.thread
            and previous.location == e.location
        ):
            continue
        rows.append(e)
    return rows


def interleaving(failure: Failure, *, full: bool = False) -> str:
    """The failing round as a table: one column per worker, rows in execution order."""
    rows = _events(failure) if full else relevant_rows(failure)
    step = failure.failing_step
    if step is None or step.kind != "round" or not rows:
        return "(no interleaving recorded)"
    preempted = {p.step: p for p in step.taken}
    names = thread_names(failure, step.workers)
    threads = len(names)
    cells: list[list[str]] = []
    for e in rows:
        text = f"{_short(e.location)}  {label(e.access())}"
        if e.step in preempted:
            target = preempted[e.step].target
            text += f"   >> preempted, {_who(names, target)} runs"
        row = [""] * threads
        if 0 <= e.thread < threads:
            row[e.thread] = text
        cells.append([f"#{e.step}", *row])
    header = ["step", *names]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(threads + 1)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    legend = []
    for location in dict.fromkeys(e.location for e in rows):
        text = source_line(location)
        if text:
            legend.append(f"  {_short(location):<18} {text}")
    if legend:
        lines += ["", "source:", *legend]
    return "\n".join(lines)


def thread_names(failure: Failure, workers: int) -> list[str]:
    """A column name per thread of the failing round: ``worker 0``, and for a thread the code
    under test started (numbered after the workers) ``thread 2, started by worker 0 at
    pool.py:42`` from its ``start`` point in the trace."""
    events = list(failure.trace) if failure.trace is not None else []
    count = max([workers, *(e.thread + 1 for e in events)])
    names = [thread_label(t, workers) for t in range(count)]
    for e in events:
        if e.kind == "start" and e.target.startswith("thread "):
            t = int(e.target.split()[1])
            if workers <= t < count:
                by = names[e.thread].split(",")[0] if e.thread < count else f"thread {e.thread}"
                names[t] = f"thread {t}, started by {by} at {_short(e.location)}"
    return names


def _who(names: list[str], thread: int) -> str:
    return names[thread].split(",")[0] if 0 <= thread < len(names) else f"thread {thread}"


#: How a report's sentences name a thread: ``worker 0``, or ``thread 2`` for one the code
#: under test started (`harness.failure.thread_label`).
Namer = Callable[[int], str]


def namer(failure: Failure) -> Namer:
    """Names for the threads of `failure`'s failing round."""
    step = failure.failing_step
    workers = step.workers if step is not None and step.kind == "round" else 1
    return partial(thread_label, workers=workers)


def _lost_update_events(
    events: list[TraceEvent], named: set[str] | None = None
) -> tuple[TraceEvent, TraceEvent, TraceEvent, str] | None:
    """``(stale read, other thread's write, this thread's write, "lost" | "stale")``.

    "lost": the write overwrote the other thread's without looking at it. "stale": it looked,
    but had already decided on an older value (check-then-act).

    Among several, the first one on state that `named` (the failure message's words)
    mentions: that is the one the violated invariant saw.
    """
    found = list(_lost_updates(events))
    for candidate in found:
        loc = _location(candidate[2])
        if named and loc is not None and loc.attr in named:
            return candidate
    return found[0] if found else None


def _reads_value(event: TraceEvent) -> bool:
    return "[" in event.target or event.target.endswith(_VALUE_READERS)


def _lost_updates(
    events: list[TraceEvent],
) -> Iterator[tuple[TraceEvent, TraceEvent, TraceEvent, str]]:
    writes: dict[Location, TraceEvent] = {}
    value_reads: dict[tuple[int, int, str], list[TraceEvent]] = {}
    for e in events:
        loc = _location(e)
        if loc is None:
            continue
        container = (e.thread, loc.obj, loc.attr)
        if e.kind == "read":
            value_reads.setdefault(container, []).append(e)
            continue
        earlier = writes.get(loc)
        writes[loc] = e
        if earlier is None or earlier.thread == e.thread:
            continue
        # Did this thread look at the value after the other thread's write? If all its reads
        # of it came before, its write is based on what it saw before: the other is lost.
        reads = value_reads.get(container, [])
        saw_before = [r for r in reads if r.step < earlier.step]
        # Loading the container to store into it (same line, no key, no .get) reads nothing.
        saw_after = [
            r
            for r in reads
            if earlier.step < r.step < e.step and (r.location != e.location or _reads_value(r))
        ]
        if not saw_before:
            continue
        if saw_after:
            # It saw the new value, but decided on an older one (a check on another line).
            checks = [r for r in saw_before if _reads_value(r) and r.location != e.location]
            if checks:
                yield checks[-1], earlier, e, "stale"
            continue
        stale = next(
            (
                r
                for r in reversed(saw_before)
                if r.target.endswith(_VALUE_READERS) or "[" in r.target or r.value is not UNKNOWN
            ),
            saw_before[-1],
        )
        # Writing the value that is already there loses nothing: both acted on the check.
        same = _known_equal(earlier.value, e.value)
        yield stale, earlier, e, "same" if same else "lost"


_PLACEHOLDER = re.compile(r"<[\w.]+>")


def _known_equal(a: object, b: object) -> bool:
    """Both values were captured in full and are equal. A ``<TypeName>`` placeholder or a
    truncated string says nothing about equality (two different closures both read
    ``<function>``)."""
    for value in (a, b):
        if value is UNKNOWN:
            return False
        if isinstance(value, str) and (_PLACEHOLDER.fullmatch(value) or len(value) >= 60):
            return False
    return type(a) is type(b) and a == b


def _lost_update(events: list[TraceEvent], message: str, who: Namer) -> str | None:
    named = set(_IDENT.findall(message))
    found = _lost_update_events(events, named)
    if found is None:
        return None
    stale, earlier, e, how = found
    loc = _location(e)
    if (
        how == "same"
        and loc is not None
        and loc.attr.lstrip("_") in named | {n.lstrip("_") for n in named}
    ):
        # The same value twice, but the failed check is about this very state: its value is
        # wrong, so one update (a read-modify-write on a stale value) was lost after all.
        how = "lost"
    if stale.target.endswith(_VALUE_READERS):
        method = stale.target.rsplit(".", 1)[-1]
        looked = f"looked up {e.what} (.{method}())"
    else:
        seen = "" if stale.value is UNKNOWN else f" == {stale.value!r}"
        looked = f"read {stale.what}{seen}"
    story = (
        f"{who(e.thread)} {looked} at {_short(stale.location)}; "
        f"{who(earlier.thread)} then {earlier.happened()} at {_short(earlier.location)}; "
    )
    if how == "lost":
        return story + (
            f"{who(e.thread)} {e.happened()} at {_short(e.location)}, overwriting it: "
            f"{who(earlier.thread)}'s update is lost."
        )
    if how == "same":
        return story + (
            f"{who(e.thread)}, acting on its stale read, {e.happened()} at "
            f"{_short(e.location)} too: the value {who(earlier.thread)} had written, so the "
            f"second write changed nothing -- both acted on what they read before "
            f"{who(earlier.thread)}'s write."
        )
    return story + (
        f"{who(e.thread)} went on with what it had checked and {e.happened()} at "
        f"{_short(e.location)}: it acted on a stale check."
    )


def _exception_conflict(
    failure: Failure, events: list[TraceEvent]
) -> tuple[TraceEvent, TraceEvent] | None:
    """``(other thread's write, failing thread's access)`` just before an exception."""
    thread = failure.worker
    if thread is None:
        return None
    mine = [e for e in events if e.thread == thread and _location(e) is not None]
    if not mine:
        return None
    last = mine[-1]
    loc = _location(last)
    for e in reversed(events):
        if e.step < last.step and e.thread != thread and e.kind != "read" and _location(e) == loc:
            return e, last
    return None


def _exception_story(failure: Failure, events: list[TraceEvent], who: Namer) -> str | None:
    conflict = _exception_conflict(failure, events)
    if conflict is None:
        return None
    other, last = conflict
    module = other.location.rpartition(":")[0]
    callers = [
        x
        for x in events
        if x.thread == other.thread
        and x.step < other.step
        and x.location.rpartition(":")[0] != module
    ]
    inside = f" (called from {_short(callers[-1].location)})" if callers else ""
    return (
        f"{who(other.thread)} {other.happened()} at {_short(other.location)}{inside} and was "
        f"preempted; {who(last.thread)} then {last.happened()} at {_short(last.location)} "
        "and failed there."
    )


def _ran_in_between(failure: Failure, events: list[TraceEvent], who: Namer) -> str | None:
    """For an exception no traced write explains: what the other workers ran while the
    failing one was switched out -- said as such, without inventing the write."""
    thread = failure.worker
    if thread is None:
        return None
    # What ran between the failing worker's last two runs: its final run (where it raised)
    # is at the end of the trace, and before it, the other workers' points back to its own.
    index = len(events)
    while index and events[index - 1].thread == thread:
        index -= 1
    others: list[TraceEvent] = []
    while index and events[index - 1].thread != thread:
        index -= 1
        others.append(events[index])
    if not others or not index:
        return None
    last = events[index - 1]
    others.reverse()
    threads = sorted({e.thread for e in others})
    lines = sorted({_short(e.location) for e in others}, key=_line_order)
    shown = ", ".join(lines[:MAX_LISTED]) + (" ..." if len(lines) > MAX_LISTED else "")
    meanwhile = ", ".join(who(t) for t in threads)
    calls = []
    for e in others:
        text = f"{_short(e.location)} `{source_line(e.location)}`"
        if e.kind == "call" and text not in calls:
            calls.append(text)
    made = f"; the calls it made there: {'; '.join(calls[:MAX_LISTED])}" if calls else ""
    return (
        f"{who(thread)} was switched out at {_short(last.location)}; {meanwhile} ran "
        f"{len(others)} point(s) meanwhile (at {shown}){made}; {who(thread)} failed when "
        "it resumed. No write traced in that window touches what it was using, so the change "
        "was most likely made inside code the harness does not trace (a C method, such as "
        "dict's or OrderedDict's, called there)."
    )


def _line_order(label: str) -> tuple[str, int]:
    name, _, line = label.rpartition(":")
    return name, int(line) if line.isdigit() else 0


def explain(failure: Failure) -> str:
    """A few sentences saying why the counterexample fails."""
    events = _events(failure)
    who = namer(failure)
    lines = [failure.headline()]
    if failure.kind in ("deadlock", "livelock", "stuck"):
        report = failure.details or failure.message
        if report.startswith(failure.message + "\n") and failure.message in lines[0]:
            report = report[len(failure.message) + 1 :]  # the headline said it already
        lines.append(label(report))  # locks and sites as the table writes them
    elif failure.kind == "exception":
        why = _exception_story(failure, events, who) or _ran_in_between(failure, events, who)
        if why:
            lines.append(why)
    else:
        ordered = _in_effect_order(failure, events)
        why = _lost_update(ordered, failure.message, who) or _conflicting_accesses(ordered, who)
        if why.startswith(_NO_CONFLICT):
            why = _raised_meanwhile(failure, events, who) or why
        lines.append(why)
    return "\n".join(lines)


def _raised_meanwhile(failure: Failure, events: list[TraceEvent], who: Namer) -> str | None:
    """For a linearizability failure in which a worker's call raised and no traced access
    conflicts: what the others ran while that worker was switched out (`_ran_in_between`)."""
    raised = [r for r in failure.history if r.error is not None and r.worker is not None]
    if failure.kind != "linearizability" or not raised:
        return None
    story = _ran_in_between(replace(failure, worker=raised[-1].worker), events, who)
    if story is None:
        return None
    return f"no single lost update explains this; {story}"


_NO_CONFLICT = (
    "no single lost update explains this, and the failing round shows no conflicting accesses"
)
#: Conflicting accesses listed when no single story explains a failure.
MAX_LISTED = 6


def _conflicting_accesses(events: list[TraceEvent], who: Namer) -> str:
    """The honest fallback: every pair of accesses to the same state by different workers,
    one of them a write, in the order they took effect -- no story is invented.

    A read is paired with each other worker's last write before it, a write with each other
    worker's last access: a worker's own later read of what it wrote does not hide its write
    from the other workers (it did, and the report then said the round had no conflict).
    """
    pairs = []
    writes: dict[Location, dict[int, TraceEvent]] = {}  # state -> worker -> its last write
    accesses: dict[Location, dict[int, TraceEvent]] = {}  # state -> worker -> its last access
    paired: set[tuple[int, int]] = set()  # (step of the earlier access, the later's worker)
    for e in events:
        loc = _location(e)
        if loc is None:
            continue
        writing = e.kind in ("write", "delete")
        earlier = (accesses if writing else writes).get(loc, {})
        for before in sorted(earlier.values(), key=lambda b: b.step):
            if before.thread == e.thread or (before.step, e.thread) in paired:
                continue
            paired.add((before.step, e.thread))
            pairs.append(
                f"  {who(before.thread)} {before.happened()} at {_short(before.location)}, "
                f"then {who(e.thread)} {e.happened()} at {_short(e.location)}"
            )
        accesses.setdefault(loc, {})[e.thread] = e
        if writing:
            writes.setdefault(loc, {})[e.thread] = e
    if not pairs:
        return f"{_NO_CONFLICT} between workers (the state may be changed in uninstrumented code)"
    more = f"\n  ... and {len(pairs) - MAX_LISTED} more" if len(pairs) > MAX_LISTED else ""
    return (
        "no single lost update explains this; the conflicting accesses are:\n"
        + "\n".join(pairs[:MAX_LISTED])
        + more
    )
