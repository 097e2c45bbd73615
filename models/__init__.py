"""The gallery: systems under test (the Backoffer of TiDB v5.1, a Go-map tripwire, ...) and
their models.

This folder is installed as the package ``harness_gallery`` (see pyproject.toml), not as
``models``: a top-level ``models`` package in site-packages would shadow a user's own
``models/`` folder. Import it, and name its modules in ``instrument``, as ``harness_gallery``.
"""
