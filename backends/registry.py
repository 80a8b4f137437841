"""The backend registry: `--backend NAME` -> the Backend class that implements it.

Each backend registers itself when its package is imported; the registry imports the
built-in ones (BUILTIN) on its first use, so that what needs no backend (`aotc ops`,
`aotc --help`, the contract's types) starts without loading LLVM. The driver asks this
registry and never imports a concrete backend.
"""

from __future__ import annotations

import importlib

from .base import Backend

__all__ = ["register_backend", "get_backend", "backend_names", "backend_classes"]

_BACKENDS: dict[str, type[Backend]] = {}

#: The built-in backend packages, in registration order (the first is the default).
BUILTIN = ("aotc.backends.cpu", "aotc.backends.cuda")
_loaded = False


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        _loaded = True  # before importing: their register_backend calls come back here
        for package in BUILTIN:
            importlib.import_module(package)


def _rank(cls: type[Backend]) -> int:
    """Built-ins in BUILTIN's order (one may import another while registering), then the
    others in registration order (sorting is stable)."""
    for i, package in enumerate(BUILTIN):
        if cls.__module__ == package or cls.__module__.startswith(package + "."):
            return i
    return len(BUILTIN)


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Class decorator: make `cls` available as `--backend cls.name`."""
    _load_builtin()  # built-ins first, whoever registers first
    if cls.name in _BACKENDS:
        raise ValueError(f"backend {cls.name!r} registered twice")
    _BACKENDS[cls.name] = cls
    ordered = sorted(_BACKENDS.values(), key=_rank)
    _BACKENDS.clear()
    _BACKENDS.update((b.name, b) for b in ordered)
    return cls


def get_backend(name: str) -> type[Backend]:
    """The backend class registered as `name`; KeyError if there is none."""
    _load_builtin()
    return _BACKENDS[name]


def backend_names() -> list[str]:
    """Every registered backend name, in registration order (the first is the default)."""
    _load_builtin()
    return list(_BACKENDS)


def backend_classes() -> list[type[Backend]]:
    """Every registered backend class, in registration order."""
    _load_builtin()
    return list(_BACKENDS.values())
