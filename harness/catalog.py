"""Finding models by id: the bundled ones, installed plugins, and ``package.module:Class``.

Three sources, in this order of precedence:
1. ``package.module:Class`` given directly (a model anywhere on sys.path, or in a file:
   ``./spec.py:Class``); a class that is not a Model is hunted as it is (`harness.plain`);
2. models registered by installed packages under the ``harness.models`` entry-point group;
3. the gallery bundled with the harness (the repository's ``models/`` folder, installed as
   ``harness_gallery``): every ``*_spec`` module.
Every model is validated when it is loaded, so a broken declaration is reported by name.

A bundled model named by its id is loaded from its own module alone (`BUNDLED`): no entry-point
scan and no import of the other bundled models, which a one-model command such as ``harness
hunt backoffer`` would otherwise pay for at every start. Only ids that are not bundled -- and
listing every model -- go through the full discovery (a plugin cannot take a bundled id).
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType

from harness.errors import UsageError
from harness.model import Model, ModelSpec, validate_model

ENTRY_POINT_GROUP = "harness.models"
#: The package the repository's `models/` folder is installed as (pyproject.toml).
GALLERY = "harness_gallery"
#: Bundled model id -> its module: the fast path of `find_model` (a test checks that it
#: matches what the full scan of the ``models`` package finds).
BUNDLED = {
    "backoffer": "harness_gallery.backoffer_spec",
    "bank": "harness_gallery.bank_spec",
    "cachetools-lru": "harness_gallery.cachetools_spec",
    "counter": "harness_gallery.counter_spec",
    "dict-iteration": "harness_gallery.registry_spec",
    "lazy-init": "harness_gallery.lazy_init_spec",
    "lru": "harness_gallery.lru_spec",
    "queue": "harness_gallery.pipeline_spec",
}
#: Bundled model modules that could not be loaded, and why (shown by `harness models`).
UNAVAILABLE: dict[str, str] = {}


class UnknownModelError(UsageError):
    """No model has the requested id (the message lists the known ones)."""


_REFERENCE = re.compile(r"[^\W\d]\w*(\.[^\W\d]\w*)*:[^\W\d]\w*")


def load_object(ref: str) -> object:
    """The object a ``module:Name`` reference names; the module may be a file path
    (``./ratelimit_spec.py:TokenBucketModel``), whose directory is then put on sys.path."""
    module_name, _, attr = ref.rpartition(":")
    if not module_name or not attr:
        raise UnknownModelError(f"model reference {ref!r} must look like package.module:Class")
    if module_name.endswith(".py") or os.sep in module_name or "/" in module_name:
        module_name = _import_path(module_name, ref)
    elif not _REFERENCE.fullmatch(ref):
        raise UnknownModelError(
            f"model reference {ref!r} must look like package.module:Class (dotted names)"
        )
    module = _import(module_name, ref)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise UnknownModelError(f"module {module_name!r} has no {attr!r} (model {ref!r})") from None


def _import_path(path: str, ref: str) -> str:
    """Put a model file's directory first on sys.path; the module name to import it by."""
    file = Path(path)
    if file.suffix != ".py" or not file.is_file():
        raise UnknownModelError(f"no Python file {path!r} (model {ref!r})")
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = file.stem
    loaded = sys.modules.get(name)
    where = getattr(loaded, "__file__", None)
    if loaded is not None and (where is None or Path(where).resolve() != file.resolve()):
        raise UnknownModelError(
            f"cannot import {path!r} as module {name!r}: a different module of that name is "
            f"already loaded ({where or 'built in'})"
        )
    return name


def _load_reference(ref: str) -> ModelSpec:
    obj = load_object(ref)
    if not isinstance(obj, type):
        raise UnknownModelError(
            f"{ref} is a {type(obj).__name__}, not a class (a Model, or a class to hunt as it is)"
        )
    if not issubclass(obj, Model):
        from harness.plain import plain_spec  # a plain class: the class is its own model

        return plain_spec(obj)
    return validate_model(obj, ref)


def _import(module_name: str, ref: str) -> ModuleType:
    """Import the module of a model the user named; whatever it raises is one line."""
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownModelError(f"cannot import {module_name!r} for model {ref!r}: {exc}") from None
    except SyntaxError as exc:
        where = f"{Path(exc.filename or '?').name}, line {exc.lineno}"
        raise UnknownModelError(
            f"cannot import {module_name!r} for model {ref!r}: SyntaxError: {exc.msg} ({where})"
        ) from None
    except (Exception, SystemExit) as exc:
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        raise UnknownModelError(
            f"importing {module_name!r} for model {ref!r} raised {type(exc).__name__}: {exc} "
            f"({Path(frame.filename).name}:{frame.lineno})"
        ) from None


@functools.cache
def _bundled_module(name: str) -> dict[str, ModelSpec]:
    """The models one bundled module defines, validated (once per process); none if the
    module needs a third-party package that is not installed."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (name, GALLERY):
            raise
        # A bundled model of an optional third-party package that is not installed.
        UNAVAILABLE[name] = f"needs {exc.name!r} (not installed)"
        return {}
    found: dict[str, ModelSpec] = {}
    for obj in vars(module).values():
        if (
            isinstance(obj, type)
            and issubclass(obj, Model)
            and obj is not Model
            and obj.__module__ == module.__name__
            and obj.name
        ):
            spec = validate_model(obj, f"{module.__name__}:{obj.__qualname__}")
            found[spec.name] = spec
    return found


def _bundled() -> dict[str, ModelSpec]:
    found: dict[str, ModelSpec] = {}
    try:
        package = importlib.import_module(GALLERY)
    except ImportError:
        return found
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.endswith("_spec"):
            found.update(_bundled_module(f"{GALLERY}.{info.name}"))
    return found


def _plugins() -> dict[str, ModelSpec]:
    from importlib.metadata import entry_points  # about 30 ms to import and scan: only here

    found: dict[str, ModelSpec] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        spec = _load_reference(ep.value)
        found[ep.name] = spec
    return found


def all_models() -> dict[str, ModelSpec]:
    """Every known model by id: bundled first, plugins override nothing silently."""
    return dict(_catalog())


@functools.cache
def _catalog() -> dict[str, ModelSpec]:
    """Discovered once per process: scanning entry points and validating every bundled model
    cost about 8 ms, paid by every hunt (the set cannot change while a process runs, short of
    installing a package into it)."""
    models = _bundled()
    for name, spec in _plugins().items():
        if name in models:
            raise UsageError(
                f"model id {name!r} is registered twice: {models[name].origin} and {spec.origin}"
            )
        models[name] = spec
    return models


def find_model(ref: str | type) -> ModelSpec:
    """Resolve a model id, a ``module:Class`` reference, a Model class or a plain class."""
    if isinstance(ref, type):
        if not issubclass(ref, Model):
            from harness.plain import plain_spec

            return plain_spec(ref)
        return validate_model(ref)
    if ":" in ref:
        return _load_reference(ref)
    name, _, _variant = ref.partition(".")
    module = BUNDLED.get(name)
    if module is not None:
        try:
            spec = _bundled_module(module).get(name)
        except ImportError:
            spec = None  # no bundled models here (an installed harness): full discovery
        if spec is not None:
            return spec
    models = all_models()
    if name not in models:
        known = ", ".join(sorted(models)) or "none"
        raise UnknownModelError(f"unknown model {name!r}; known models: {known}")
    return models[name]


def split_variant(ref: str) -> tuple[str, str | None]:
    """``backoffer.locked`` -> (``backoffer``, ``locked``); references keep their colon part."""
    if ":" in ref:
        module, _, rest = ref.partition(":")
        cls, _, variant = rest.partition(".")
        return f"{module}:{cls}", variant or None
    name, _, variant = ref.partition(".")
    return name, variant or None
