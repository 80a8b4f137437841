"""The backend registry: `--backend NAME` -> the Backend class that implements it.

Each backend registers itself when its package is imported (`backends/__init__.py` imports
them all); the driver asks this registry and never imports a concrete backend.
"""

from __future__ import annotations

from .base import Backend

__all__ = ["register_backend", "get_backend", "backend_names", "backend_classes"]

_BACKENDS: dict[str, type[Backend]] = {}


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Class decorator: make `cls` available as `--backend cls.name`."""
    if cls.name in _BACKENDS:
        raise ValueError(f"backend {cls.name!r} registered twice")
    _BACKENDS[cls.name] = cls
    return cls


def get_backend(name: str) -> type[Backend]:
    """The backend class registered as `name`; KeyError if there is none."""
    return _BACKENDS[name]


def backend_names() -> list[str]:
    """Every registered backend name, in registration order (the first is the default)."""
    return list(_BACKENDS)


def backend_classes() -> list[type[Backend]]:
    """Every registered backend class, in registration order."""
    return list(_BACKENDS.values())
