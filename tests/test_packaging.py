"""What gets installed: every harness package, and the gallery under a name of its own.

The repository keeps the gallery in a top-level ``models/`` folder; installed as ``models`` it
would shadow a user's own ``models/`` package (and ``harness models`` then listed nothing in
such a project), so it is installed as ``harness_gallery``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parent.parent


def _setuptools_table() -> dict[str, object]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    table = data["tool"]["setuptools"]
    assert isinstance(table, dict)
    return table


def test_every_harness_package_is_installed() -> None:
    packages = _setuptools_table()["packages"]
    assert isinstance(packages, list)
    listed = set(packages)
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "harness").rglob("__init__.py")
    }
    assert on_disk <= listed, f"packages missing from pyproject.toml: {sorted(on_disk - listed)}"


def test_gallery_is_installed_as_harness_gallery_not_models() -> None:
    table = _setuptools_table()
    assert table["package-dir"] == {"harness_gallery": "models"}
    assert "models" not in table["packages"]  # type: ignore[operator]


def test_a_users_own_models_package_does_not_hide_the_gallery(tmp_path: Path) -> None:
    """A project with its own ``models/`` package on sys.path (the working directory of
    ``python -m``) still sees the bundled models."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("USERS_OWN = True\n", encoding="utf-8")
    done = run_cli("models", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ids = {entry["model"] for entry in json.loads(done.stdout)}
    assert {"backoffer", "counter", "lru"} <= ids
