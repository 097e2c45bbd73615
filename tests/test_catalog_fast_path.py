"""A bundled model named by id loads from its own module: no entry-point scan, no other models."""

from __future__ import annotations

import subprocess
import sys

from harness import catalog
from harness.catalog import BUNDLED, all_models, find_model
from tests.conftest import ROOT


def test_the_bundled_index_matches_the_full_scan() -> None:
    assert {name: spec.cls.__module__ for name, spec in all_models().items()} == BUNDLED


def test_a_bundled_id_is_found_without_the_full_discovery() -> None:
    # A fresh interpreter: neither the catalog nor any other bundled model is loaded yet.
    code = (
        "import sys\n"
        "from harness import catalog\n"
        "calls = []\n"
        "catalog._catalog = lambda: calls.append(1) or {}\n"
        "spec = catalog.find_model('backoffer')\n"
        "others = sorted(m for m in sys.modules\n"
        "                if m.startswith('harness_gallery.') and '_spec' in m)\n"
        "print(spec.name, calls, others)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["backoffer", "[]", "['harness_gallery.backoffer_spec']"]


def test_the_fast_path_gives_the_same_spec_as_the_scan() -> None:
    assert (
        find_model("lazy-init")
        is catalog._bundled_module("harness_gallery.lazy_init_spec")["lazy-init"]
    )
    assert find_model("lazy-init").cls is all_models()["lazy-init"].cls
