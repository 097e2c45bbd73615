"""Models whose own code is wrong, to check that they are reported as broken, not as races."""

from __future__ import annotations

import threading

from hypothesis import strategies as st

from harness.model import Model, invariant, operation


class Box:
    def __init__(self) -> None:
        self.items: list[int] = []

    def put(self, x: int) -> None:
        self.items.append(x)


class CrashingInvariantModel(Model):
    name = "crashing-invariant"
    instrument = ("tests.targets.broken_models",)

    def setup(self) -> None:
        self.box = Box()

    @operation(x=st.integers(0, 3))
    def put(self, x: int) -> None:
        self.box.put(x)

    @invariant()
    def looks_at_a_missing_key(self) -> None:
        if self.box.items:
            missing: dict[str, int] = {}
            assert missing["missing"]  # KeyError: a bug in the model, not in Box


class NoStrategyModel(Model):
    name = "no-strategy"
    instrument = ("tests.targets.broken_models",)

    @operation()
    def put(self, x: int) -> None:
        pass


class BadInvariantSignatureModel(Model):
    name = "bad-invariant"
    instrument = ("tests.targets.broken_models",)

    @operation()
    def noop(self) -> None:
        pass

    @invariant()
    def needs_an_argument(self, other: int) -> None:
        pass


class MissingModuleModel(Model):
    name = "missing-module"
    instrument = ("tests.targets.does_not_exist",)

    @operation()
    def noop(self) -> None:
        pass


class SetupRaisesModel(Model):
    name = "setup-raises"
    instrument = ("tests.targets.broken_models",)

    def setup(self) -> None:
        self.box = Box()
        raise ValueError("no database configured")

    @operation()
    def noop(self) -> None:
        pass


class Spawner:
    """Hands work to a thread of its own: outside what the harness can schedule."""

    def __init__(self) -> None:
        self.done = 0

    def work(self) -> None:
        helper = threading.Thread(target=self._help)
        helper.start()
        helper.join()

    def _help(self) -> None:
        self.done += 1


class SpawningModel(Model):
    name = "spawning"
    instrument = ("tests.targets.broken_models",)

    def setup(self) -> None:
        self.spawner = Spawner()

    @operation()
    def work(self) -> None:
        self.spawner.work()


class MisspelledInterchangeableModel(Model):
    name = "misspelled-interchangeable"
    instrument = ("tests.targets.broken_models",)
    interchangeable = ("kye",)

    @operation(key=st.integers(0, 2))
    def get(self, key: int) -> None:
        pass


class StringInterchangeableModel(Model):
    name = "string-interchangeable"
    instrument = ("tests.targets.broken_models",)
    interchangeable = "key"

    @operation(key=st.integers(0, 2))
    def get(self, key: int) -> None:
        pass
