"""Compile progress: the stage, pass and kernel the compiler is at, timed per stage.

The driver installs a `Progress` for one compile (`with progress.active(p): ...`); the
stages say where they are through the module functions `stage(name)` (a context manager
that also times the stage) and `detail(text)`, which do nothing when no `Progress` is
installed, so passes and backends need no parameter for it.

A `Progress` with a stream (the driver gives stderr when it is a terminal and `--quiet`
is off) shows one line, rewritten in place, once the compile has run for `delay` seconds:
`aotc: codegen: kernel 12/63 fusion.4 (3.2 s)`. It records every stage's wall time in
`stage_seconds` either way (for `--report`).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO, Iterator


class Progress:
    """Stage timing, and a one-line display on `stream` (None: silent)."""

    def __init__(self, stream: IO[str] | None = None, *, delay: float = 1.0,
                 interval: float = 0.1):
        self.stream = stream
        self.delay = delay
        self.interval = interval
        self.stage_seconds: dict[str, float] = {}
        self._started = time.perf_counter()
        self._stage = ""
        self._stage_started = self._started
        self._shown_at = 0.0
        self._shown = False

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        outer, outer_started = self._stage, self._stage_started
        self._stage, self._stage_started = name, time.perf_counter()
        self.detail("")
        try:
            yield
        finally:
            elapsed = time.perf_counter() - self._stage_started
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + elapsed
            self._stage, self._stage_started = outer, outer_started

    def detail(self, text: str) -> None:
        if self.stream is None:
            return
        now = time.perf_counter()
        if now - self._started < self.delay or now - self._shown_at < self.interval:
            return
        self._shown_at, self._shown = now, True
        line = f"aotc: {self._stage}" + (f": {text}" if text else "")
        self.stream.write(f"\r{line[:100]} ({now - self._started:.1f} s)\x1b[K")
        self.stream.flush()

    def finish(self) -> None:
        """Clear the progress line (if one was shown)."""
        if self.stream is not None and self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


_current: ContextVar[Progress | None] = ContextVar("aotc_progress", default=None)


@contextmanager
def active(progress: Progress) -> Iterator[Progress]:
    """Install `progress` for the compile running inside the `with`."""
    token = _current.set(progress)
    try:
        yield progress
    finally:
        progress.finish()
        _current.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time (and show) the stage `name` of the installed Progress, if any."""
    progress = _current.get()
    if progress is None:
        yield
        return
    with progress.stage(name):
        yield


def detail(text: str) -> None:
    """Show where the current stage is (a pass, a kernel), if a Progress is installed."""
    progress = _current.get()
    if progress is not None:
        progress.detail(text)


__all__ = ["Progress", "active", "detail", "stage"]
