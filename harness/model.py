"""The Model API: describe a shared object once, and the harness hunts its races.

A model is a class that says

* how to build the object under test (`Model.setup`, once per example, with the example's
  `variant`, a seeded `rng` and any drawn `parameters`),
* which operations threads perform on it (methods marked `@operation`, with a Hypothesis
  strategy per argument),
* what must hold after every step (methods marked `@invariant`, raising AssertionError),
* which modules to instrument (`instrument`: the code under test, by module name).

The code under test never imports the harness: the model lives beside it. Operations and
invariants are ordinary methods of the model; operations run on controlled worker threads,
invariants on the test thread between steps. Everything the model does itself (in its own,
uninstrumented module) is atomic as far as the scheduler is concerned, which makes the model
the natural place to keep ground truth -- e.g. how many sleeps each thread really did.

Example::

    class CounterModel(Model):
        name = "counter"
        instrument = ("mypkg.counter",)
        variants = {"unsafe": "no lock", "locked": "one lock"}

        def setup(self) -> None:
            self.counter = Counter(locked=self.variant == "locked")
            self.done = 0

        @operation()
        def incr(self) -> None:
            self.counter.incr()
            self.done += 1        # the model's own code: atomic, so a faithful count

        @invariant()
        def no_lost_increment(self) -> None:
            assert self.counter.n == self.done, f"n == {self.counter.n}, {self.done} increments"
"""

from __future__ import annotations

import inspect
import random
import re
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from harness.classify import model_codes
from harness.errors import UsageError
from harness.runtime.instrument import resolve_modules

F = TypeVar("F", bound=Callable[..., Any])

_OPERATION = "_harness_operation"
_INVARIANT = "_harness_invariant"


class ModelDefinitionError(UsageError):
    """A model is declared wrongly; the message names the model and the offending member."""


@dataclass(frozen=True)
class Operation:
    """One operation of a model: its method, argument strategies and expected exceptions."""

    name: str
    func: Callable[..., Any]
    strategies: Mapping[str, SearchStrategy[Any]]
    raises: tuple[type[BaseException], ...] = ()
    takes_worker: bool = False
    #: Argument name -> the values `harness verify` enumerates (declared with `operation`).
    domain: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    #: Whether hunts draw it and verify enumerates it (not: only a saved file may call it).
    drawn: ClassVar[bool] = True

    def call(self, model: Model, worker: int | None, args: Mapping[str, Any]) -> Any:
        if self.takes_worker:
            return self.func(model, worker, **args)
        return self.func(model, **args)

    def strategy(self) -> SearchStrategy[tuple[str, dict[str, Any]]]:
        """Draws ``(name, args)`` for one call of this operation."""
        name = self.name
        return st.fixed_dictionaries(dict(self.strategies)).map(lambda args: (name, args))


@dataclass(frozen=True)
class Invariant:
    name: str
    func: Callable[[Any], None]
    doc: str = ""


def operation(
    *,
    raises: Sequence[type[BaseException]] = (),
    domain: Mapping[str, Sequence[Any]] | None = None,
    **strategies: SearchStrategy[Any],
) -> Callable[[F], F]:
    """Mark a model method as an operation threads may call.

    Each keyword names an argument of the method and gives the Hypothesis strategy its values
    are drawn from. If the method has a parameter called ``worker`` (right after ``self``), it
    receives the index of the worker thread calling it (None in a sequential step). Exceptions
    listed in `raises` are results of the operation, not failures.

    `domain` gives, per argument, the few values `harness verify` tries exhaustively
    (``domain={"src": [0, 1], "amount": [1]}``). Without it, verify takes each strategy's
    simplest few values in Hypothesis's own order: declare a domain when those are not the
    values that matter, or when the strategy has no simplest values (objects without
    equality, strategies that cannot be searched).
    """
    declared = {name: tuple(values) for name, values in (domain or {}).items()}

    def mark(func: F) -> F:
        setattr(func, _OPERATION, (dict(strategies), tuple(raises), declared))
        return func

    return mark


def invariant() -> Callable[[F], F]:
    """Mark a model method (taking only ``self``) as a check run after every step.

    It must raise AssertionError, with a message in the model's terms, when the object is in a
    state no correct implementation could reach. Any other exception is reported as a broken
    model, not as a race.
    """

    def mark(func: F) -> F:
        setattr(func, _INVARIANT, True)
        return func

    return mark


@dataclass
class OpRecord:
    """One completed operation call, as the scenario runner records it."""

    worker: int | None
    op: str
    args: dict[str, Any]
    result: Any = None
    error: BaseException | None = None
    #: Real-time order within a round: numbers drawn from one counter as the call began and
    #: returned (None on the test thread). A call whose `end` is below another's `start`
    #: returned before that one began.
    start: int | None = None
    end: int | None = None


class Model:
    """Base class of every model. Subclass it, set the class attributes, add operations.

    Class attributes:
      name       -- the model id used on the command line (``harness hunt NAME``).
      summary    -- one line for ``harness models``.
      variants   -- variant id -> one-line description; the first is the default.
      instrument -- modules whose code gets scheduling points (the code under test).
      parameters -- argument name -> strategy, drawn once per example, available as
                    ``self.params`` in `setup` (e.g. a budget or a size).
      expect_failure -- variants that are known to be unsafe: the hunt is expected to find a
                    counterexample for them (tests use it; the CLI reports it).
      max_workers, max_ops_per_worker -- bounds of a parallel round.
      instrument_optional -- True to allow an empty `instrument`: the code under test only
                    uses the harness-controlled locks, sleeps and queues (refused otherwise,
                    because a hunt that instruments nothing tests nothing).
      points_per_operation -- granularity -> about how many scheduling points one operation
                    reaches; drawn preemptions are spread over that range (default: measured
                    on the Backoffer).
      interchangeable -- argument names whose values the object and the model treat alike
                    (a fresh cache's keys 0, 1, 2): renaming them consistently turns a
                    scenario into an equivalent one, so `harness verify` runs one scenario
                    of each such family. A claim about the code under test, like a TLA+
                    symmetry set: declare it only where no value is special (``if key:``,
                    a key that the set-up pre-loads, an ordering of keys), and
                    ``verify --no-symmetry`` checks every scenario anyway.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    variants: ClassVar[Mapping[str, str]] = {"default": "the only variant"}
    instrument: ClassVar[Sequence[str]] = ()
    parameters: ClassVar[Mapping[str, SearchStrategy[Any]]] = {}
    expect_failure: ClassVar[Sequence[str]] = ()
    max_workers: ClassVar[int] = 8
    max_ops_per_worker: ClassVar[int] = 3
    points_per_operation: ClassVar[Mapping[str, int]] = {}
    instrument_optional: ClassVar[bool] = False
    interchangeable: ClassVar[Sequence[str]] = ()

    def __init__(self, variant: str, rng: random.Random, params: Mapping[str, Any]) -> None:
        self.variant = variant
        self.rng = rng
        self.params = dict(params)
        self.setup()

    # -- hooks for subclasses --------------------------------------------------------------

    def setup(self) -> None:
        """Build the object under test. Runs inside the patched world (locks, virtual time)."""

    def reference(self) -> object | None:
        """A fresh sequential reference implementation, or None (the default) for none.

        Return an object with one method per operation, named like it and taking the same
        arguments (not `worker`), whose results are the right ones when calls come one at a
        time: often the unsafe class itself, or a few lines over a dict. The harness then
        checks every result: a sequential call must return what the reference returns, and a
        round must be linearizable (see `harness.linearizability`). Operations should return
        what the object under test returned. Called after `setup`, and again whenever a
        state of the reference must be copied but cannot be deep-copied (it holds a lock,
        say): it must then return a fresh reference like the first one.
        """
        return None

    def begin_round(self, workers: int) -> None:
        """Called on the test thread before a parallel round of `workers` threads."""

    def end_round(self) -> None:
        """Called on the test thread after a parallel round, before the invariants."""

    # -- introspection -----------------------------------------------------------------------

    @classmethod
    def operations(cls) -> list[Operation]:
        """The operations in definition order (subclass definitions after base ones)."""
        found: dict[str, Operation] = {}
        for klass in reversed(cls.__mro__):
            for attr, func in vars(klass).items():
                marker = getattr(func, _OPERATION, None)
                if marker is None:
                    continue
                strategies, raises, domain = marker
                params = list(inspect.signature(func).parameters)
                takes_worker = len(params) > 1 and params[1] == "worker"
                found[attr] = Operation(attr, func, strategies, raises, takes_worker, domain)
        return list(found.values())

    @classmethod
    def invariants(cls) -> list[Invariant]:
        found: dict[str, Invariant] = {}
        for klass in reversed(cls.__mro__):
            for attr, func in vars(klass).items():
                if getattr(func, _INVARIANT, False):
                    doc = (inspect.getdoc(func) or "").split("\n")[0]
                    found[attr] = Invariant(attr, func, doc)
        return list(found.values())

    @classmethod
    def default_variant(cls) -> str:
        return next(iter(cls.variants))


@dataclass
class ModelSpec:
    """A validated model class plus where it came from (for `harness models`)."""

    cls: type[Model]
    origin: str
    operations: list[Operation] = field(default_factory=list)
    invariants: list[Invariant] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.cls.name

    @cached_property
    def instrumented_files(self) -> dict[str, str]:
        """File -> module of the code under test (what gets scheduling points)."""
        return resolve_modules(self.cls.instrument)

    @cached_property
    def own_code(self) -> frozenset[types.CodeType]:
        """The model's own functions: an exception raised there may be the model's fault."""
        return model_codes(self.cls)

    def operation(self, name: str) -> Operation:
        """The operation called `name` (KeyError if the model has none)."""
        for op in self.operations:
            if op.name == name:
                return op
        raise KeyError(name)


_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
_BOUNDS = {"max_workers": (2, 64), "max_ops_per_worker": (1, 100)}


def _check_declarations(cls: type[Model], where: str) -> None:
    """The class attributes' types and ranges (a string where a number belongs, say), so that
    a wrong declaration is one line naming it rather than a TypeError deep in a hunt."""
    if not isinstance(cls.variants, Mapping) or not cls.variants:
        raise ModelDefinitionError(f"{where} declares no variants (a dict of name -> description)")
    for variant, text in cls.variants.items():
        if not isinstance(variant, str) or not _NAME.fullmatch(variant):
            raise ModelDefinitionError(
                f"{where}: variant {variant!r} must be letters, digits, '_' and '-'"
            )
        if not isinstance(text, str):
            raise ModelDefinitionError(f"{where}: variant {variant!r} needs a description string")
    if isinstance(cls.instrument, str) or not isinstance(cls.instrument, Sequence):
        raise ModelDefinitionError(f"{where}: `instrument` must be a sequence of module names")
    if isinstance(cls.expect_failure, str) or not isinstance(cls.expect_failure, Sequence):
        raise ModelDefinitionError(f"{where}: `expect_failure` must be a sequence of variants")
    if not isinstance(cls.parameters, Mapping):
        raise ModelDefinitionError(f"{where}: `parameters` must be a dict of name -> strategy")
    for attr, (low, high) in _BOUNDS.items():
        value = getattr(cls, attr)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ModelDefinitionError(
                f"{where}: {attr} must be an integer from {low} to {high}, got {_brief(value)}"
            )
    points = cls.points_per_operation
    if not isinstance(points, Mapping) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in points.values()
    ):
        raise ModelDefinitionError(
            f"{where}: points_per_operation must map granularities to positive integers"
        )


def _brief(value: Any) -> str:
    if isinstance(value, int) and value.bit_length() > 64:
        return "a huge integer"
    text = repr(value) if isinstance(value, (int, float, str)) else type(value).__name__
    return text[:60]


def validate_model(cls: Any, origin: str = "") -> ModelSpec:
    """Check a model declaration and report the first problem by model and member name."""
    label = getattr(cls, "__qualname__", None)
    label = label if isinstance(label, str) else type(cls).__name__
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise ModelDefinitionError(f"{origin or label} is not a harness Model subclass")
    if not cls.name or not isinstance(cls.name, str):
        raise ModelDefinitionError(f"model {label} has no `name`")
    if not _NAME.fullmatch(cls.name):
        raise ModelDefinitionError(
            f"model {label}: name {cls.name!r} must be letters, digits, '_' and '-' "
            "(it is a command-line id and part of file names)"
        )
    where = f"model {cls.name!r} ({label})"
    _check_declarations(cls, where)
    if not cls.instrument and not cls.instrument_optional:
        raise ModelDefinitionError(
            f"{where} instruments nothing: set `instrument` to the module(s) of the code under "
            "test (or `instrument_optional = True` if it only uses locks, sleeps and queues)"
        )
    ops = cls.operations()
    if not ops:
        raise ModelDefinitionError(f"{where} declares no @operation")
    for op in ops:
        _check_operation(op, where)
    invariants = cls.invariants()
    for inv in invariants:
        _check_invariant(inv, where)
    for name, strategy in cls.parameters.items():
        if not isinstance(strategy, SearchStrategy):
            raise ModelDefinitionError(
                f"{where}: parameter {name!r} needs a Hypothesis strategy, got {strategy!r}"
            )
    for variant in cls.expect_failure:
        if variant not in cls.variants:
            raise ModelDefinitionError(f"{where}: expect_failure names unknown variant {variant!r}")
    _check_interchangeable(cls, ops, where)
    try:
        resolve_modules(cls.instrument)
    except UsageError as exc:
        raise ModelDefinitionError(f"{where}: instrument: {exc}") from None
    return ModelSpec(cls, origin or f"{cls.__module__}:{cls.__qualname__}", ops, invariants)


def _check_interchangeable(cls: type[Model], ops: list[Operation], where: str) -> None:
    names = cls.interchangeable
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ModelDefinitionError(
            f"{where}: `interchangeable` must be a sequence of argument names"
        )
    taken = {arg for op in ops for arg in (*op.strategies, *op.domain)}
    for name in names:
        if name not in taken:
            raise ModelDefinitionError(
                f"{where}: interchangeable names {_brief(name)}, which no operation takes "
                f"(arguments: {', '.join(sorted(taken)) or 'none'})"
            )


def _check_operation(op: Operation, where: str) -> None:
    """An operation's arguments: each named, each drawn (a strategy or a default), and every
    declared domain and strategy for one of them."""
    sig = inspect.signature(op.func)
    params = list(sig.parameters.values())[1 + op.takes_worker :]
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ModelDefinitionError(
                f"{where}: operation {op.name} takes *args/**kwargs; name its arguments"
            )
        if param.name not in op.strategies and param.default is param.empty:
            raise ModelDefinitionError(
                f"{where}: operation {op.name} has no strategy for argument {param.name!r}"
            )
    for arg, values in op.domain.items():
        if arg not in sig.parameters or arg == "worker":
            raise ModelDefinitionError(
                f"{where}: operation {op.name} declares a domain for {arg!r}, "
                "which is not one of its arguments"
            )
        if not values:
            raise ModelDefinitionError(
                f"{where}: operation {op.name} declares an empty domain for {arg!r}"
            )
    for arg, strategy in op.strategies.items():
        if arg not in sig.parameters:
            raise ModelDefinitionError(
                f"{where}: operation {op.name} has a strategy for {arg!r}, "
                "which is not one of its arguments"
            )
        if not isinstance(strategy, SearchStrategy):
            raise ModelDefinitionError(
                f"{where}: operation {op.name} argument {arg!r} needs a Hypothesis "
                f"strategy, got {strategy!r}"
            )


def _check_invariant(inv: Invariant, where: str) -> None:
    """An invariant is called with the model alone."""
    required = [
        p
        for p in list(inspect.signature(inv.func).parameters.values())[1:]
        if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required:
        raise ModelDefinitionError(
            f"{where}: invariant {inv.name} must take only self, "
            f"but also requires {', '.join(p.name for p in required)}"
        )
