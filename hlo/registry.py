"""`Registry`: a table from a key (an HLO opcode, a TensorFlow op type) to the rule for it.

Every such table in aotc is one of these: TF lowerings, shape rules, evaluator rules,
simplifier rules, in-place rules, layout rules and the CPU backend's emitters. A table is
created empty in a module that defines only the table and its driver; *family* modules
register into it with the decorator, and the package's `__init__` imports each family
module once. So no module imports its extensions, and there are no import circles:

    SHAPE_RULES = Registry("shape rule")             # in the registry module

    @SHAPE_RULES.register("gather")                  # in a family module
    def _gather(opcode, shapes, attrs, called): ...

A table whose families are many and each compile needs few is an `IndexedRegistry`: a
committed index names each key's family module, imported on the key's first lookup.

This module imports nothing of aotc, so any layer may use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Callable, Generic, TypeVar

V = TypeVar("V")


class Registry(MutableMapping[str, V], Generic[V]):
    """A mapping from keys to rules, filled by `register`, which rejects a second rule for
    a key (two rules for one opcode are a bug, whichever import happens last).

    With `many=True` a key holds a sequence of rules tried in registration order (the
    simplifier's rewrites); then registering the same function twice for a key is the
    error. Lookup is a plain mapping lookup (`table[key]`, `table.get(key)`, `key in
    table`); item assignment replaces a rule outright (tests use it to patch one).
    """

    def __init__(self, what: str, *, many: bool = False):
        self.what = what
        self.many = many
        self._rules: dict[str, V] = {}

    def register(self, *keys: str) -> Callable[[V], V]:
        """Decorator: register the decorated rule under each of `keys`."""

        def decorate(fn: V) -> V:
            for key in keys:
                self.add(key, fn)
            return fn

        return decorate

    def add(self, key: str, rule: V) -> None:
        """Register `rule` under `key` (for rules built in a loop, e.g. one per table row)."""
        if self.many:
            rules = self._rules.setdefault(key, ())
            if rule in rules:
                raise ValueError(f"duplicate {self.what} for {key}: {_name(rule)}")
            self._rules[key] = rules + (rule,)
            return
        if key in self._rules:
            raise ValueError(f"duplicate {self.what} for {key}: {_name(self._rules[key])} "
                             f"and {_name(rule)}")
        self._rules[key] = rule

    def __getitem__(self, key: str) -> V:
        return self._rules[key]

    def __setitem__(self, key: str, rule: V) -> None:
        self._rules[key] = rule

    def __delitem__(self, key: str) -> None:
        del self._rules[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {len(self)} keys)"


class IndexedRegistry(Registry[V]):
    """A Registry whose family modules are imported on demand: `index` maps each key to
    the module (under `package`) that registers its rule, `families` lists every family
    module. A lookup of an indexed key imports its module first; iterating or sizing the
    table imports them all. (A compile lowers a dozen op types of hundreds: importing
    every family took 45 ms of each compile's start-up.)"""

    def __init__(self, what: str, package: str, families: tuple[str, ...],
                 index: Mapping[str, str]):
        super().__init__(what)
        self.package = package
        self.families = families
        self.index = index
        self._loaded = False

    def load(self, family: str) -> None:
        """Import family module `family` (registering its rules)."""
        importlib.import_module(f"{self.package}.{family}")

    def load_all(self) -> None:
        """Import every family module."""
        if not self._loaded:
            for family in self.families:
                self.load(family)
            self._loaded = True

    def registered(self) -> set[str]:
        """The keys whose rules are registered so far (importing nothing)."""
        return set(self._rules)

    def __getitem__(self, key: str) -> V:
        if key not in self._rules and key in self.index:
            self.load(self.index[key])
        return self._rules[key]

    def __contains__(self, key: object) -> bool:
        return key in self._rules or key in self.index

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        return iter(self._rules)

    def __len__(self) -> int:
        self.load_all()
        return len(self._rules)


def _name(rule) -> str:
    return f"{getattr(rule, '__module__', '?')}.{getattr(rule, '__qualname__', repr(rule))}"
