"""A plain class, no model: hunt any class's races with the class itself as the specification.

Writing a `Model` is the price of entry everywhere else in the harness; for a class whose
methods are its whole interface that price buys little. `plain_spec` builds the model from
the class instead:

* operations are its public methods (plus the container protocol it defines:
  ``__getitem__``, ``__setitem__``, ``__delitem__``, ``__contains__``, ``__len__``,
  ``__iter__``), or exactly ``methods=[...]``;
* each argument without a default is drawn from its type hint -- an unannotated one from the
  small-integer domain -- and ``strategies={"put.key": st.integers(0, 9)}`` overrides any
  argument (one with a default included). A method with an argument nothing can be drawn
  for is left out and listed, never dropped in silence;
* the check is the one Lincheck makes by default: every result must be explained by the class
  itself run sequentially -- a fresh instance built with the same constructor arguments --
  in some order of the calls (see `harness.linearizability`). Results are compared with
  ``==``; an exception's type is a result like any value;
* instrumented is the class's module, or its top-level package when the module is part of
  one (a class's helpers usually live beside it); ``instrument=`` overrides.

Why small domains by default: a race needs two threads on the *same* state -- the same key,
the same slot -- and Hypothesis draws integers from a huge range. Integers 0..3, text over
``"ab"`` of at most two characters and containers of at most three items make two workers
collide on a key in most examples, so the cheapest scenarios are already the racy ones.

What a result is, exactly (so that ``==`` means something): a view or an iterator a method
returns is read into a list during the call (a live view would show the state at check time,
not at the call); the object itself (``return self``) is a marker; a value of a class that
compares by identity only, or a function or bound method, is compared by its type, since a
fresh instance's can never be ``==`` to the reference's; plain tuples, lists and dicts are
settled item by item (``fork()`` returning ``(Backoffer, cancel)`` compares as two types).

The model's name is ``module:Class``, its only variant ``default``; the constructor arguments
(and an explicit method list) are the example's `Model.parameters`, so every counterexample
file records them and ``harness replay FILE`` rebuilds the same object.
"""

from __future__ import annotations

import ast
import collections.abc
import copy
import enum
import functools
import gc
import inspect
import io
import itertools
import pickle
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from harness.errors import UsageError
from harness.model import Model, ModelSpec, Operation, validate_model
from harness.runtime.sync import Lock as SchedulerLock

if TYPE_CHECKING:
    from harness.hunt import HuntResult

#: The model variant of every plain class.
VARIANT = "default"
#: Container protocol methods that count as public when the class defines them.
PROTOCOL = (
    "__contains__",
    "__delitem__",
    "__getitem__",
    "__iter__",
    "__len__",
    "__setitem__",
)
#: Items read from an iterator a method returns (an endless one must not hang the check).
MAX_ITEMS = 1_000
#: The option names `hunt_class`, the fixture and the CLI accept for a plain class.
OPTIONS = ("args", "kwargs", "methods", "strategies", "instrument")

SMALL_INTS: SearchStrategy[int] = st.integers(0, 3)
_SMALL: dict[Any, SearchStrategy[Any]] = {
    int: SMALL_INTS,
    bool: st.booleans(),
    float: st.sampled_from((0.0, 0.5, 1.0, 2.0)),
    str: st.text(alphabet="ab", max_size=2),
    bytes: st.binary(max_size=2),
    type(None): st.none(),
    typing.Any: SMALL_INTS,
    object: SMALL_INTS,
}
_SEQUENCES: dict[Any, Callable[[SearchStrategy[Any]], SearchStrategy[Any]]] = {
    list: lambda s: st.lists(s, max_size=3),
    collections.abc.Sequence: lambda s: st.lists(s, max_size=3),
    collections.abc.MutableSequence: lambda s: st.lists(s, max_size=3),
    collections.abc.Iterable: lambda s: st.lists(s, max_size=3),
    collections.abc.Collection: lambda s: st.lists(s, max_size=3),
    set: lambda s: st.sets(s, max_size=3),
    collections.abc.Set: lambda s: st.frozensets(s, max_size=3),
    collections.abc.MutableSet: lambda s: st.sets(s, max_size=3),
    frozenset: lambda s: st.frozensets(s, max_size=3),
}
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping)


class PlainClassError(UsageError):
    """A class cannot be hunted as it is (not a class, nothing to call, a bad option); the
    message names the class and what to change."""


@dataclass(frozen=True)
class Opaque:
    """A result compared by its type only: a value whose class compares by identity (two
    fresh objects are never ``==``), or the object under test itself."""

    what: str

    def __repr__(self) -> str:
        return f"<{self.what}>"


SELF = Opaque("the object itself")
_IDENTITY_EQ: Any = object.__eq__


@dataclass(frozen=True)
class Method:
    """How to call one method: its name and the drawn arguments that must go by position."""

    name: str
    positional: tuple[str, ...] = ()


#: Callables a method may return (a bound method of a fresh object, a closure): they compare by
#: identity of what they are bound to, so a fresh instance's never equals the reference's.
_CALLABLES = (
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    types.MethodWrapperType,
    functools.partial,
)
#: How deep `settle` looks inside plain tuples, lists and dicts.
_SETTLE_DEPTH = 3


def settle(obj: object, value: Any, depth: int = 0) -> Any:
    """The comparable form of what a method of `obj` returned (see the module docstring)."""
    if value is None:
        return None
    if value is obj:
        return SELF
    kind: type = type(value)
    if isinstance(value, _CALLABLES):
        return Opaque(kind.__qualname__)
    inner = depth < _SETTLE_DEPTH
    if isinstance(value, (collections.abc.Iterator, collections.abc.MappingView)):
        items = itertools.islice(typing.cast(Iterable[Any], value), MAX_ITEMS)
        return [settle(obj, item, depth + 1) if inner else item for item in items]
    if inner and type(value) in (tuple, list):
        return type(value)(settle(obj, item, depth + 1) for item in value)
    if inner and type(value) is dict:
        return {key: settle(obj, item, depth + 1) for key, item in value.items()}
    if type(value).__eq__ is _IDENTITY_EQ:
        return Opaque(type(value).__qualname__)
    return value


def invoke(obj: object, method: Method, args: Mapping[str, Any]) -> Any:
    """Call `method` on `obj` with the drawn `args`; its settled result."""
    positional = [args[name] for name in method.positional if name in args]
    keywords = {k: v for k, v in args.items() if k not in method.positional}
    return settle(obj, getattr(obj, method.name)(*positional, **keywords))


class Sequential:
    """The sequential reference: a fresh instance, called exactly like the object under test.

    The linearizability check calls ``reference.NAME(**args)``; this forwards to the instance
    through `invoke`, so positional-only arguments and settled results match the workers'.
    """

    def __init__(
        self,
        obj: object,
        methods: Mapping[str, Method],
        locks: tuple[SchedulerLock, ...] | None = None,
    ) -> None:
        self.obj = obj
        self.methods = dict(methods)
        self.locks = _locks_of(obj) if locks is None else locks

    def __deepcopy__(self, memo: dict[int, Any]) -> Sequential:
        """A copy of the instance that shares its locks (the call table is shared too).

        The linearizability search copies the reference at every branch, and a lock cannot
        be copied: without sharing, a locked class's reference would be rebuilt and every
        call replayed at each branch (ten times slower, measured on a locked LRU cache). One
        call at a time never contends, so copies may share a lock -- unless one is held
        between calls, when the copy is refused and the reference rebuilt as before.
        """
        if any(lock.locked() for lock in self.locks):
            raise TypeError("a lock of the sequential reference is held between calls")
        memo.update({id(lock): lock for lock in self.locks})
        return Sequential(copy.deepcopy(self.obj, memo), self.methods, self.locks)

    def _harness_state_key(self) -> bytes:
        """The instance's state as pickled bytes, its locks written as a name: equal states
        collapse into one in the linearizability search (`Replica.key`), which otherwise
        keeps one state per order of calls because a lock cannot be pickled (a locked LRU
        cache's check carried about ten states into every round)."""
        locks = {id(lock) for lock in self.locks}

        class _Pickler(pickle.Pickler):
            def persistent_id(self, obj: Any) -> str | None:
                return "lock" if id(obj) in locks else None

        out = io.BytesIO()
        _Pickler(out).dump(self.obj)
        return out.getvalue()

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # Only the operations: `copy` and `pickle` probe for hooks such as `__deepcopy__`.
        method = self.__dict__.get("methods", {}).get(name)
        if method is None:
            raise AttributeError(name)
        return lambda **args: invoke(self.obj, method, args)


def _locks_of(obj: object, limit: int = 10_000) -> tuple[SchedulerLock, ...]:
    """The scheduler's locks reachable from `obj`'s state (not through classes, modules or
    functions), looking at no more than `limit` objects."""
    found: dict[int, SchedulerLock] = {}
    seen = {id(obj)}
    todo = [obj]
    while todo and len(seen) < limit:
        item = todo.pop()
        if isinstance(item, SchedulerLock):
            found[id(item)] = item
            continue
        for ref in gc.get_referents(item):
            if id(ref) in seen or isinstance(ref, _NOT_STATE):
                continue
            seen.add(id(ref))
            todo.append(ref)
    return tuple(found.values())


_NOT_STATE = (type, types.ModuleType, types.FunctionType, types.CodeType, types.BuiltinFunctionType)


def compiled_note(spec: ModelSpec) -> str | None:
    """For a plain class whose drawn methods have no Python code (``collections.OrderedDict``):
    why a hunt of it reaches no scheduling point, in words a user can act on."""
    cls = spec.cls
    if not (isinstance(cls, type) and issubclass(cls, PlainModel)) or not cls.calls:
        return None
    methods = [inspect.getattr_static(cls.target, name, None) for name in cls.calls]
    if any(hasattr(getattr(m, "__func__", m), "__code__") for m in methods):
        return None
    return (
        f"the methods of {cls.target.__module__}.{cls.target.__qualname__} are compiled (C), "
        "not Python: there is no code of it to interleave, and each call is atomic here"
    )


class PlainModel(Model):
    """Base of the models `plain_spec` builds; one subclass per class and option set."""

    target: ClassVar[type] = object
    calls: ClassVar[Mapping[str, Method]] = {}
    drawn: ClassVar[Mapping[str, Mapping[str, SearchStrategy[Any]]]] = {}
    #: Methods left out, with why (`skipped_note` puts them in one line).
    skipped: ClassVar[Mapping[str, str]] = {}
    variants: ClassVar[Mapping[str, str]] = {VARIANT: "the class as it is"}
    #: Smaller rounds than a hand-written model's: every round is checked for
    #: linearizability, whose search grows with the calls in it, and a race between two
    #: methods needs only two workers with one call each.
    max_workers: ClassVar[int] = 4
    max_ops_per_worker: ClassVar[int] = 2

    def setup(self) -> None:
        self.obj = self.build()

    def build(self) -> object:
        """A fresh instance; the arguments are copied so that no example sees another's."""
        args = copy.deepcopy(tuple(self.params.get("args", ())))
        kwargs = copy.deepcopy(dict(self.params.get("kwargs", {})))
        return self.target(*args, **kwargs)

    def reference(self) -> Sequential:
        return Sequential(self.build(), self.calls)

    @classmethod
    def operations(cls) -> list[Operation]:
        """The drawn methods, then every other method as a `ReplayOnly` operation."""
        ops = [
            Operation(name, _operation(cls.calls[name], strategies), strategies, (Exception,))
            for name, strategies in cls.drawn.items()
        ]
        for name, method in cls.calls.items():
            if name not in cls.drawn:
                ops.append(ReplayOnly(name, _operation(method, {}), {}, (Exception,)))
        return ops


class ReplayOnly(Operation):
    """A method the hunt does not draw, still callable by name from a counterexample file.

    A file written by a hunt with ``methods=`` or ``strategies=`` may call a method the
    default model of the class leaves out, and ``harness replay`` rebuilds the model from
    ``module:Class`` alone; its arguments are in the file, so no strategy is needed.
    """

    drawn: ClassVar[bool] = False

    def strategy(self) -> SearchStrategy[tuple[str, dict[str, Any]]]:
        return st.nothing()


def _operation(method: Method, strategies: Mapping[str, SearchStrategy[Any]]) -> Callable[..., Any]:
    def call(model: PlainModel, **args: Any) -> Any:
        return invoke(model.obj, method, args)

    # `validate_model` reads the signature: one keyword argument per drawn argument.
    params = [inspect.Parameter("model", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in strategies]
    call.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    call.__name__ = call.__qualname__ = method.name
    return call


def strategy_for(annotation: Any) -> SearchStrategy[Any] | None:
    """A small-domain strategy for a type hint (an unannotated argument: small integers), or
    None when none can be built."""
    if annotation is inspect.Parameter.empty:
        return SMALL_INTS
    if annotation in _SMALL:
        return _SMALL[annotation]
    origin, inner = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = [strategy_for(arg) for arg in inner]
        return None if None in parts else st.one_of(*typing.cast(list[Any], parts))
    if origin is typing.Literal:
        return st.sampled_from(inner)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(list(annotation))
    if origin in _SEQUENCES or annotation in _SEQUENCES:
        item = strategy_for(inner[0]) if inner else SMALL_INTS
        return None if item is None else _SEQUENCES[origin or annotation](item)
    if origin is tuple or annotation is tuple:
        if not inner or inner[-1] is Ellipsis:
            item = strategy_for(inner[0]) if inner else SMALL_INTS
            return None if item is None else st.lists(item, max_size=3).map(tuple)
        parts = [strategy_for(arg) for arg in inner]
        return None if None in parts else st.tuples(*typing.cast(list[Any], parts))
    if origin in _MAPPINGS or annotation in _MAPPINGS:
        key, value = (strategy_for(arg) for arg in inner) if inner else (SMALL_INTS, SMALL_INTS)
        if key is None or value is None:
            return None
        return st.dictionaries(key, value, max_size=3)
    try:
        strategy = st.from_type(annotation)
        strategy.validate()
    except Exception:
        return None
    return strategy


def _candidates(cls: type) -> list[str]:
    """Public instance methods (and the container protocol) of `cls`, alphabetically."""
    names = []
    for name in dir(cls):
        if name.startswith("_") and name not in PROTOCOL:
            continue
        raw = inspect.getattr_static(cls, name)
        if isinstance(raw, (staticmethod, classmethod, property)):
            continue
        if getattr(object, name, None) is getattr(cls, name):
            continue
        if inspect.isfunction(raw) or inspect.ismethoddescriptor(raw):
            names.append(name)
    return names


def _callables(cls: type) -> list[str]:
    """Every method name of `cls` that is not Python's object protocol."""
    return [
        name
        for name in dir(cls)
        if getattr(object, name, None) is None and callable(getattr(cls, name, None))
    ]


def _replay_method(cls: type, name: str) -> Method:
    try:
        params = list(inspect.signature(getattr(cls, name)).parameters.values())
    except (TypeError, ValueError):
        return Method(name)
    return Method(name, tuple(p.name for p in params[1:] if p.kind is p.POSITIONAL_ONLY))


def _describe(name: str, sig: inspect.Signature | None) -> str:
    return f"{name}{sig}".replace("(self, ", "(").replace("(self)", "()") if sig else name


def _plan(
    cls: type, name: str, overrides: Mapping[str, SearchStrategy[Any]]
) -> tuple[Method, dict[str, SearchStrategy[Any]]] | str:
    """How to call method `name` and a strategy per drawn argument, or why it cannot be."""
    func = getattr(cls, name, None)
    if not callable(func):
        return "not a method"
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return "its signature cannot be read"
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = {}
    params = list(sig.parameters.values())
    if params and params[0].kind is not params[0].KEYWORD_ONLY:
        params = params[1:]  # self
    known = {p.name for p in params}
    for arg in overrides:
        if arg not in known:
            raise PlainClassError(
                f"strategies: {cls.__qualname__}.{name} has no argument {arg!r} "
                f"(it takes {_describe(name, sig)})"
            )
    strategies: dict[str, SearchStrategy[Any]] = {}
    positional: list[str] = []
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name in overrides:
            strategy: SearchStrategy[Any] | None = overrides[param.name]
        elif param.default is not param.empty:
            continue  # keeps its default
        else:
            strategy = strategy_for(hints.get(param.name, param.annotation))
            if strategy is None:
                return f"cannot draw {param.name!r}"
        assert strategy is not None
        if param.kind is param.POSITIONAL_ONLY:
            if len(positional) != sum(
                p.kind is p.POSITIONAL_ONLY for p in params[: params.index(param)]
            ):
                return f"cannot pass {param.name!r} without the positional arguments before it"
            positional.append(param.name)
        strategies[param.name] = strategy
    return Method(name, tuple(positional)), strategies


def _split_strategies(
    cls: type, strategies: Mapping[str, Any]
) -> dict[str, dict[str, SearchStrategy[Any]]]:
    if not isinstance(strategies, Mapping):
        raise PlainClassError(
            f"strategies must map 'method.argument' to a strategy, got {strategies!r}"
        )
    by_method: dict[str, dict[str, SearchStrategy[Any]]] = {}
    for key, strategy in strategies.items():
        method, dot, arg = str(key).partition(".")
        if not dot or not method or not arg:
            raise PlainClassError(
                f"strategies: key {key!r} must name a method and an argument: 'put.key'"
            )
        if not callable(getattr(cls, method, None)):
            raise PlainClassError(f"strategies: {cls.__qualname__} has no method {method!r}")
        if not isinstance(strategy, SearchStrategy):
            raise PlainClassError(
                f"strategies: {key!r} needs a Hypothesis strategy, got {strategy!r}"
            )
        by_method.setdefault(method, {})[arg] = strategy
    return by_method


def default_instrument(cls: type) -> tuple[str, ...]:
    """The class's module, or the top-level package of a module inside a package."""
    return (cls.__module__.split(".")[0],)


def plain_spec(
    cls: Any,
    *,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    methods: Sequence[str] | None = None,
    strategies: Mapping[str, Any] | None = None,
    instrument: Sequence[str] | str | None = None,
) -> ModelSpec:
    """A validated model of `cls` as it is (see the module docstring).

    Raises `PlainClassError` for anything that is not a usable class or option; the
    constructor itself is only called inside a hunt (a crash there is a broken-model verdict).
    """
    _check_target(cls, args, kwargs)
    kwargs = {} if kwargs is None else kwargs
    if isinstance(instrument, str):
        instrument = (instrument,)
    ref = f"{cls.__module__}:{cls.__qualname__}"
    overrides = _split_strategies(cls, strategies or {})
    calls, drawn, skipped = _operations(cls, _chosen_methods(cls, methods), overrides)
    parameters: dict[str, SearchStrategy[Any]] = {
        "args": st.just(tuple(args)),
        "kwargs": st.just(dict(kwargs)),
    }
    if instrument is not None:
        # Recorded in every counterexample file: replay rebuilds the model from the class
        # alone (`for_params`), and what is instrumented decides whether it fails.
        parameters["instrument"] = st.just(tuple(instrument))
    attributes = {
        # A model id is a command-line id and part of file names: `module:Class` spelled with
        # dashes (`cachetools-LRUCache`); the reference itself is kept as the model's origin.
        "name": re.sub(r"[^A-Za-z0-9_-]", "-", ref),
        "summary": f"{ref}, run as it is (plain class)",
        "instrument": tuple(instrument) if instrument is not None else default_instrument(cls),
        "parameters": parameters,
        "target": cls,
        "calls": calls,
        "drawn": drawn,
        "skipped": skipped,
    }
    model = types.new_class(
        f"Plain{cls.__name__}", (PlainModel,), exec_body=lambda ns: ns.update(attributes)
    )
    # The origin is always the importable `module:Class` (a file path given on the command
    # line is imported by its module name): what files record and replay names.
    return validate_model(model, ref)


def _check_target(cls: Any, args: Any, kwargs: Any) -> None:
    """Raise `PlainClassError` unless `cls` is a class (not a Model) and the constructor
    arguments have the right shape."""
    if not isinstance(cls, type):
        raise PlainClassError(
            f"a plain-class hunt needs a class, got {cls!r} ({type(cls).__name__})"
        )
    if issubclass(cls, Model):
        raise PlainClassError(
            f"{cls.__qualname__} is a harness Model: hunt it as a model (harness.hunt.hunt), "
            "the plain-class options do not apply"
        )
    if isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
        raise PlainClassError(f"args must be a tuple of constructor arguments, got {args!r}")
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise PlainClassError(f"kwargs must map argument names to values, got {kwargs!r}")


def _chosen_methods(cls: type, methods: Sequence[str] | str | None) -> list[str]:
    """The methods to hunt: the ones named (each checked), else every public one."""
    if methods is None:
        return _candidates(cls)
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    chosen = list(dict.fromkeys(methods))
    for name in chosen:
        if not isinstance(name, str) or not callable(getattr(cls, name, None)):
            raise PlainClassError(f"methods: {cls.__qualname__} has no method {name!r}")
        if name.startswith("_") and getattr(object, name, None) is not None:
            raise PlainClassError(f"methods: {name} is Python's object protocol, not an operation")
    return chosen


Drawn = dict[str, dict[str, SearchStrategy[Any]]]


def _operations(
    cls: type, chosen: list[str], overrides: Drawn
) -> tuple[dict[str, Method], Drawn, dict[str, str]]:
    """How to call each method (the drawn ones, and every other one a file may replay), the
    strategies of the drawn ones, and why each method left out was left out."""
    calls: dict[str, Method] = {}
    drawn: Drawn = {}
    skipped: dict[str, str] = {}
    for name in chosen:
        plan = _plan(cls, name, overrides.get(name, {}))
        if isinstance(plan, str):
            skipped[name] = plan
        else:
            calls[name], drawn[name] = plan
    if not drawn:
        why = (
            f"none of its methods can be called with drawn arguments ({_note(skipped)})"
            if skipped
            else "it has no public method to call"
        )
        raise PlainClassError(
            f"class {cls.__module__}:{cls.__qualname__} cannot be hunted: {why}; name methods "
            "with methods=[...] / --methods and give argument strategies with "
            "strategies={'method.arg': ...}"
        )
    for name in _callables(cls):
        calls.setdefault(name, _replay_method(cls, name))
    return calls, drawn, skipped


def _note(skipped: Mapping[str, str]) -> str:
    return "; ".join(f"{name}: {why}" for name, why in skipped.items())


def for_params(spec: ModelSpec, params: Mapping[str, Any]) -> ModelSpec:
    """The model a counterexample of `spec` was found with: for a plain class hunted with
    ``instrument=``, the same class instrumented the same way (any other spec as it is)."""
    instrument = params.get("instrument")
    if not is_plain(spec) or instrument is None or tuple(instrument) == spec.cls.instrument:
        return spec
    target = typing.cast(type[PlainModel], spec.cls).target
    return plain_spec(target, instrument=tuple(instrument))


def skipped_note(spec: ModelSpec) -> str | None:
    """One line listing the methods a plain-class model left out, or None."""
    skipped = getattr(spec.cls, "skipped", None)
    if not skipped:
        return None
    names = ", ".join(skipped)
    return (
        f"{spec.name}: left out {len(skipped)} method(s) whose arguments cannot be drawn: "
        f"{names} ({_note(skipped)}); give strategies={{'method.arg': ...}} to include them"
    )


def is_plain(spec: ModelSpec) -> bool:
    return issubclass(spec.cls, PlainModel)


def resolve(model: Any, variant: str | None = None, **options: Any) -> tuple[ModelSpec, list[str]]:
    """Like `harness.hunt.resolve`, for a model or a plain class (object or ``module:Class``).

    `options` are the plain-class ones (`OPTIONS`); given for a model, they are an error.
    """
    from harness.catalog import load_object, split_variant
    from harness.hunt import resolve as resolve_model

    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise PlainClassError(f"unknown plain-class option(s): {', '.join(sorted(unknown))}")
    given = {k: v for k, v in options.items() if v is not None}
    target = model
    if isinstance(model, str) and ":" in model:
        ref, inline = split_variant(model)
        variant = variant or inline
        target = load_object(ref)
        if not isinstance(target, type):
            raise PlainClassError(
                f"{ref} is a {type(target).__name__}, not a class (a Model, or a class to hunt "
                "as it is)"
            )
    if isinstance(target, str) or (isinstance(target, type) and issubclass(target, Model)):
        if given:
            raise PlainClassError(
                f"{', '.join(sorted(given))}: plain-class option(s), but {model!r} is a model"
            )
        return resolve_model(model, variant)
    spec = plain_spec(target, **given)
    if variant not in (None, VARIANT):
        raise PlainClassError(
            f"{spec.name} is a plain class: its only variant is {VARIANT!r}, not {variant!r}"
        )
    check_constructor(target, given.get("args", ()), given.get("kwargs"))
    return spec, [VARIANT]


def cli_options(namespace: Any) -> dict[str, Any]:
    """The plain-class options of ``harness hunt`` (``--arg``, ``--methods``); only those given.

    ``--arg 3`` is a positional argument, ``--arg maxsize=3`` a keyword one; a value is read
    as a Python literal (`ast.literal_eval`: data, never code) and taken as a string when it
    is not one, so ``--arg name=abc`` works unquoted.
    """
    options: dict[str, Any] = {}
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for raw in namespace.arg:
        name, eq, text = raw.partition("=")
        if eq and name.isidentifier():
            kwargs[name] = _literal(text)
        elif kwargs:
            raise PlainClassError(f"--arg {raw}: a positional argument after a keyword one")
        else:
            args.append(_literal(raw))
    if args:
        options["args"] = tuple(args)
    if kwargs:
        options["kwargs"] = kwargs
    if namespace.methods is not None:
        options["methods"] = [m.strip() for m in namespace.methods.split(",") if m.strip()]
    return options


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def check_constructor(cls: type, args: Sequence[Any], kwargs: Mapping[str, Any] | None) -> None:
    """Raise `PlainClassError` when the constructor cannot take these arguments at all."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return  # a C type without a readable signature: the hunt will tell
    try:
        sig.bind(*args, **(kwargs or {}))
    except TypeError as exc:
        shown = ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in (kwargs or {}).items())])
        raise PlainClassError(
            f"{cls.__qualname__}({shown}): {exc} -- give constructor arguments with "
            "args=(...) / kwargs={...} (CLI: --arg VALUE, --arg name=VALUE)"
        ) from None


def hunt_class(
    cls: type,
    *,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    methods: Sequence[str] | None = None,
    strategies: Mapping[str, SearchStrategy[Any]] | None = None,
    instrument: Sequence[str] | str | None = None,
    **options: Any,
) -> HuntResult:
    """Hunt `cls`'s races with no model: ``harness.hunt_class(LRUCache, args=(3,))``.

    `options` are the fields of `harness.settings.Settings` (seed, max_examples,
    granularity...) and `on_failure`, as for `harness.hunt.hunt`. Methods left out are
    reported with a `PlainClassWarning`.
    """
    import warnings

    from harness.hunt import hunt_spec
    from harness.settings import Settings

    spec = plain_spec(
        cls, args=args, kwargs=kwargs, methods=methods, strategies=strategies, instrument=instrument
    )
    check_constructor(cls, args, kwargs)
    note = skipped_note(spec)
    if note is not None:
        warnings.warn(note, PlainClassWarning, stacklevel=2)
    on_failure = options.pop("on_failure", None)
    return hunt_spec(spec, VARIANT, Settings(**options), on_failure=on_failure)


class PlainClassWarning(UserWarning):
    """Some methods of a hunted class were left out (their arguments cannot be drawn)."""
