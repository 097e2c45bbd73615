"""What a user reads from the command line: --version, --help, progress, colour, variants,
replay --json, and verdict lines that say a thing once."""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import json
import os
import platform
import pty
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness import cli, progress, report
from harness.artifact import save
from harness.errors import UsageError
from harness.hunt import hunt, hunt_spec, resolve
from harness.settings import Settings
from tests.conftest import ROOT, run_cli


@pytest.fixture(autouse=True)
def _no_hypothesis_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_hypothesis_storage", lambda: None)  # process-wide otherwise


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli._parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {"harness": parser, **sub.choices}


def test_version_names_the_harness_and_the_python(tmp_path: Path) -> None:
    done = run_cli("--version", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    installed = importlib.metadata.version("harness")
    assert done.stdout == f"harness {installed} (Python {platform.python_version()})\n"


def test_version_is_the_installed_distributions_else_the_packages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.metadata, "version", lambda name: f"{name}-9.9")
    assert cli.installed_version() == "harness-9.9"

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert cli.installed_version() == harness.__version__


@pytest.mark.parametrize("command", ["harness", "hunt", "verify", "replay", "models"])
def test_every_command_documents_every_option_with_an_example(command: str) -> None:
    parser = _subparsers()[command]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, (command, action.dest)
    text = parser.format_help()
    example = "harness" if command == "harness" else f"harness {command}"
    assert "examples:" in text and f"\n  {example} " in text, text
    # Nothing points at files a user of the installed package does not have.
    for outside in (".md", "docs/", "models/", "tests/targets", " harness/"):
        assert outside not in text, (command, outside)


def test_every_example_in_the_help_parses() -> None:
    parsers = _subparsers()
    for command, parser in parsers.items():
        for line in (parser.epilog or "").splitlines():
            words = line.split()
            if len(words) < 2 or words[0] != "harness":
                continue
            argv = line.strip().split("  ")[0].split()[1:]
            argv = ["X.json" if w == "FILE" else w for w in argv]
            parsers["harness"].parse_args(argv)  # a usage error would raise UsageError
            assert argv[0] == command or command == "harness", line


class _Clock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_progress_appears_after_the_delay_and_is_erased() -> None:
    out = io.StringIO()
    clock = _Clock(0.1)
    line = progress.Progress("m.v", out, clock=clock)
    with progress.showing(line):
        for _ in range(5):  # 0.5 s of examples: nothing is drawn yet
            progress.example_done()
        assert out.getvalue() == ""
        clock.step = progress.DELAY  # past the delay: each call draws
        progress.example_done()
        progress.failure_found()
    drawn = out.getvalue()
    assert "\r\x1b[Khunting m.v: 6 examples, 0 failures, " in drawn
    assert "7 examples" not in drawn and "6 examples, 1 failure (shrinking)" in drawn
    assert drawn.endswith("\r\x1b[K")  # erased: the report starts on a clean line
    progress.example_done()  # outside `showing`: counted nowhere, drawn nowhere
    assert out.getvalue() == drawn and line.examples == 6


def test_progress_counts_the_hunts_own_examples() -> None:
    spec, _ = resolve("counter", "locked")
    line = progress.Progress("counter.locked", io.StringIO(), clock=_Clock(1.0))
    with progress.showing(line):
        result = hunt_spec(spec, "locked", Settings(max_examples=30))
    assert result.examples > 0 and line.examples == result.examples and line.failures == 0
    assert "counter.locked: " in line.stream.getvalue()  # type: ignore[attr-defined]


def test_progress_counts_a_stress_hunts_examples_and_its_find() -> None:
    spec, _ = resolve("counter", "unsafe")
    line = progress.Progress("counter.unsafe", io.StringIO(), clock=_Clock(1.0))
    with progress.showing(line):
        result = hunt_spec(spec, "unsafe", Settings(max_examples=20, engine="stress", repeats=5))
    stress = result.verdict.stress
    assert stress is not None and stress.examples > 0
    assert line.examples == stress.examples
    assert line.failures == (1 if stress.first is not None else 0)


def test_a_variant_named_twice_in_python_is_refused() -> None:
    with pytest.raises(UsageError, match="names variant 'unsafe' and variant= names 'locked'"):
        hunt("counter.unsafe", "locked")
    assert hunt("counter.locked", "locked", max_examples=5).variant == "locked"  # same: fine


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_and_colour_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert progress.wanted(_Tty(), quiet=False)
    assert not progress.wanted(_Tty(), quiet=True)
    assert not progress.wanted(io.StringIO(), quiet=False)
    assert report.colour_wanted(_Tty()) and not report.colour_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not report.colour_wanted(_Tty())


def test_colour_marks_verdict_explanation_and_preempted_rows() -> None:
    result = hunt("counter", "unsafe", max_examples=50)
    failure = result.failure
    assert failure is not None and failure.failing_step is not None
    plain_text = report.hunt_text(result)
    coloured = report.hunt_text(result, colour=True)
    assert "\x1b[" not in plain_text
    assert coloured.startswith("\x1b[1;31m" + report.headline(result) + "\x1b[0m")
    assert "\x1b[1m" + failure.headline() in coloured
    (preempted,) = [p.step for p in failure.failing_step.taken]
    marked = [line for line in coloured.splitlines() if "\x1b[35m" in line]
    assert len(marked) == 1 and f"#{preempted} " in marked[0] and "preempted" in marked[0]
    # Without the escape codes the coloured text is the plain one, character for character.
    import re

    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain_text


def test_cli_output_into_a_pipe_has_no_colour_and_no_progress(tmp_path: Path) -> None:
    done = run_cli(
        "hunt", "counter.unsafe", "--max-examples", "50", "--artifacts", str(tmp_path), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert "COUNTEREXAMPLE" in done.stdout
    assert "\x1b" not in done.stdout + done.stderr and "hunting" not in done.stderr


def _on_a_terminal(*args: str, cwd: Path, no_color: bool = False) -> tuple[int, str]:
    """``harness ARGS`` with stdout on a pseudo-terminal (stderr a pipe), as a user's shell
    runs it: its exit code and what the terminal showed."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TERM="xterm")
    env.pop("NO_COLOR", None)
    if no_color:
        env["NO_COLOR"] = "1"
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    child.communicate(timeout=300)
    return child.returncode, shown.decode().replace("\r\n", "\n")


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_the_verdict_is_coloured_on_a_real_terminal_only_without_no_color_or_json(
    tmp_path: Path,
) -> None:
    hunt_args = ("--max-examples", "50", "--artifacts", str(tmp_path))
    code, shown = _on_a_terminal("hunt", "counter.unsafe", *hunt_args, cwd=tmp_path)
    assert code == 1 and shown.startswith("\x1b[1;31mcounter.unsafe: COUNTEREXAMPLE"), shown
    code, shown = _on_a_terminal("hunt", "counter.locked", *hunt_args, cwd=tmp_path)
    assert code == 0 and shown.startswith("\x1b[1;32mcounter.locked: clean"), shown
    code, shown = _on_a_terminal("hunt", "counter.unsafe", *hunt_args, cwd=tmp_path, no_color=True)
    assert code == 1 and "COUNTEREXAMPLE" in shown and "\x1b" not in shown, shown
    code, shown = _on_a_terminal("hunt", "counter.unsafe", *hunt_args, "--json", cwd=tmp_path)
    assert code == 1 and "\x1b" not in shown, shown
    assert json.loads(shown)["kind"] == "counterexample"


def test_a_variant_named_twice_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["hunt", "counter.unsafe", "--variant", "locked"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "counter.unsafe names variant 'unsafe' and --variant names 'locked'" in err
    assert cli.main(["hunt", "counter", "--variant", "locked,nope"]) == 2
    assert "has no variant 'nope'" in capsys.readouterr().err
    assert cli.main(["hunt", "counter", "--variant", "locked,"]) == 2
    assert "an empty variant name" in capsys.readouterr().err


def test_variant_list_hunts_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["hunt", "counter", "--variant", "unsafe,locked", "--max-examples", "20", "--json"]
    assert cli.main([*argv, "--artifacts", str(tmp_path)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [r["variant"] for r in data["results"]] == ["unsafe", "locked"]
    assert [r["kind"] for r in data["results"]] == ["counterexample", "clean"]


def test_replay_json_says_what_was_replayed_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failure = hunt("counter", "unsafe", max_examples=50).failure
    assert failure is not None
    path = save(failure, tmp_path)
    assert cli.main(["replay", str(path), "--json", "--variant", "locked"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "counter" and data["variant"] == "locked"
    assert data["recorded_variant"] == "unsafe" and data["file"] == str(path)
    assert data["python_written"] == data["python_now"] == platform.python_version()
    assert data["reproduced"] is False and data["verdict"] == "no-longer-fails"


def test_a_deadlock_is_said_once() -> None:
    failure = hunt("bank", "naive", max_examples=100).failure
    assert failure is not None and failure.kind == "deadlock"
    text = report.failure_text(failure)
    assert "deadlock failed" not in text and "failed: deadlock" not in text
    assert text.count("every unfinished thread is blocked") == 1, text
    assert failure.headline() == f"bank.naive: {failure.message}"


def test_the_terminal_names_locks_and_sites_as_files_like_the_table() -> None:
    failure = hunt("bank.naive").failure
    assert failure is not None and failure.kind == "deadlock"
    shown = report.failure_text(failure)
    assert "waits for Lock bank.py:" in shown and "acquire Lock bank.py:" in shown, shown
    assert "harness_gallery.bank:" not in shown, shown


def test_the_version_is_looked_up_only_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    def looked_up() -> str:
        raise AssertionError("the installed distribution was read for another command")

    monkeypatch.setattr(cli, "installed_version", looked_up)
    assert cli._parser().parse_args(["models"]).command == "models"
