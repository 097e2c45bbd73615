"""docs/writing-a-model.md section 7 is executed: the Model options it shows do what it says."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tests.conftest import ROOT, run_command

DOC = ROOT / "docs" / "writing-a-model.md"
BLOCK = re.compile(r"```python\n# options file: (?P<name>[\w.]+)\n(?P<code>.*?)```", re.DOTALL)


def test_the_options_example_hunts_clean_with_every_option_in_use(tmp_path: Path) -> None:
    blocks = {b["name"]: b["code"] for b in BLOCK.finditer(DOC.read_text())}
    assert set(blocks) == {"buffer.py", "buffer_spec.py"}
    for name, code in blocks.items():
        (tmp_path / name).write_text(code)
    done = run_command(
        [sys.executable, "-m", "harness.cli", "hunt", "buffer_spec:BufferModel", "--json",
         "--max-examples", "60", "--artifacts", str(tmp_path / "cx")],
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = json.loads(done.stdout)["results"]
    assert result["kind"] == "clean", result
    # The invariant held: worker indices reached the operation, rounds had at most
    # max_workers threads, and Full (the next test shows it is raised) was taken as a result.
    sys.path.insert(0, str(tmp_path))
    try:
        import buffer_spec  # type: ignore[import-not-found]  # written by the test above

        assert set(buffer_spec.BufferModel.parameters) == {"capacity"}
        (put,) = buffer_spec.BufferModel.operations()
        assert put.raises == (buffer_spec.Full,) and put.takes_worker
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("buffer", "buffer_spec"):
            sys.modules.pop(name, None)


def test_without_raises_the_same_exception_is_the_code_failing(tmp_path: Path) -> None:
    blocks = {b["name"]: b["code"] for b in BLOCK.finditer(DOC.read_text())}
    (tmp_path / "buffer.py").write_text(blocks["buffer.py"])
    spec = blocks["buffer_spec.py"].replace(", raises=(Full,)", "")
    assert spec != blocks["buffer_spec.py"]
    (tmp_path / "buffer_spec.py").write_text(spec)
    done = run_command(
        [sys.executable, "-m", "harness.cli", "hunt", "buffer_spec:BufferModel", "--json",
         "--max-examples", "60", "--artifacts", str(tmp_path / "cx")],
        cwd=tmp_path,
    )  # fmt: skip
    (result,) = json.loads(done.stdout)["results"]
    assert result["kind"] == "counterexample" and result["exception_type"] == "Full", result
