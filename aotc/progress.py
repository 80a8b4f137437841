"""Compile progress: time per stage (for `--report`) and a status line on a terminal.

The driver opens a `Progress` for each compile and makes it current (`tracking`); the
stages below it (pass pipelines, the backend) report through `current()` without it being
threaded through every signature. Outside a compile `current()` is a `Progress` that
records nothing and shows nothing, so passes and backends run alone (as in unit tests)
need no setup.

The status line (`aotc: <stage>: <detail>`) is written to stderr, overwritten in place
with a carriage return, only when stderr is a terminal, and only once the compile has run
for `delay` seconds: a quick compile prints nothing. The line is erased when the compile
ends, so what follows (the report, the `wrote ...` line) starts on a clean line.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from typing import Iterator, TextIO

from .report import NO_CODE

#: The stages of a compile, in pipeline order (the keys of `Progress.stage_seconds`);
#: "import" is pruning and lowering the graph (or reading a SavedModel or HLO text).
STAGES = ("import", "optimize", "layout+schedule", "buffers", "backend codegen",
          "LLVM optimization", "object emission", "writing")

#: Seconds a compile runs before its status line appears ("longer than a couple of seconds"
#: is when a user starts wondering; shorter compiles stay silent).
DEFAULT_DELAY = 1.5

#: The least seconds between two redraws (redrawing per pass or kernel would cost more than
#: it tells).
DEFAULT_REFRESH = 0.1

_CLEAR = "\r\x1b[K"  # carriage return, then erase to the end of the line


class Progress:
    """Times the stages of one compile and (optionally) shows them on `stream`.

    show: whether to draw the status line at all; `for_terminal` decides it for the CLI.
    delay: seconds before the first line is drawn; refresh: the least seconds between two
    redraws (defaults: DEFAULT_DELAY and DEFAULT_REFRESH, read when the object is made).
    """

    def __init__(self, stream: TextIO | None = None, *, show: bool = False,
                 delay: float | None = None, refresh: float | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.show = show
        self.delay = DEFAULT_DELAY if delay is None else delay
        self.refresh = DEFAULT_REFRESH if refresh is None else refresh
        self.stage_seconds: dict[str, float] = {}
        self._start = time.perf_counter()
        self._stage: str | None = None
        self._kernels = 0
        self._drawn = 0.0  # perf_counter of the last redraw; 0: nothing on screen
        self.lines_drawn = 0  # redraws so far (tests check the line appeared)

    @classmethod
    def for_terminal(cls, quiet: bool = False, stream: TextIO | None = None) -> "Progress":
        """The CLI's progress: shown when `stream` (default stderr) is a TTY and not `quiet`."""
        stream = stream if stream is not None else sys.stderr
        isatty = getattr(stream, "isatty", None)
        return cls(stream, show=not quiet and bool(isatty and isatty()))

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage `name` (times of a stage entered twice add up)."""
        outer, self._stage = self._stage, name
        start = time.perf_counter()
        self.update("")
        try:
            yield
        finally:
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + (
                time.perf_counter() - start)
            self._stage = outer

    def step(self, detail: str) -> None:
        """Say what the current stage is doing now (a pass name, ...)."""
        self.update(detail)

    def emitted(self, opcode: str) -> None:
        """The backend emitted an entry instruction: count it if it is a kernel (the
        definition of `--report`, aotc/report.py)."""
        if opcode in NO_CODE:
            return
        self._kernels += 1
        self.update(f"{self._kernels} kernels emitted")

    def update(self, detail: str) -> None:
        """Redraw the status line, unless hidden, too early or drawn very recently."""
        if not self.show:
            return
        now = time.perf_counter()
        if now - self._start < self.delay or now - self._drawn < self.refresh:
            return
        text = f"aotc: {self._stage or 'compiling'}" + (f": {detail}" if detail else "")
        self.stream.write(_CLEAR + text)
        self.stream.flush()
        self._drawn = now
        self.lines_drawn += 1

    def finish(self) -> None:
        """Erase the status line, if one is on screen."""
        if self._drawn:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self._drawn = 0.0

    @property
    def total_seconds(self) -> float:
        return time.perf_counter() - self._start


_CURRENT: contextvars.ContextVar[Progress | None] = contextvars.ContextVar(
    "aotc_progress", default=None)


def active() -> Progress | None:
    """The progress of the compile running in this context, or None outside a compile."""
    return _CURRENT.get()


def current() -> Progress:
    """The progress of the compile running in this context (a silent one outside a compile)."""
    progress = _CURRENT.get()
    return progress if progress is not None else Progress()


@contextlib.contextmanager
def tracking(progress: Progress) -> Iterator[Progress]:
    """Make `progress` current for the block; erase its line at the end."""
    token = _CURRENT.set(progress)
    try:
        yield progress
    finally:
        progress.finish()
        _CURRENT.reset(token)
