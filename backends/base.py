"""The backend contract: what the driver hands a code generator and what it gets back.

A backend is a plugin (as in XLA's per-platform `Compiler` and Triton's `BaseBackend`): the
driver looks it up by name in `aotc.backends.registry`, constructs it once with the frozen,
resolved options, lets it add HLO passes after the shared pipeline, and calls `compile`
with the optimized module and its buffer assignment. The backend returns its files and the
facts the `Program` (aotc.runtime.program) needs; the driver writes the artifact.

    @register_backend
    class MyBackend(Backend):
        name = "mine"
        flags = (BackendFlag("my_arch", "the architecture to compile for", default="v1"),)

        def compile(self, module, assignment):
            ...
            return BackendResult(files={f"{self.options.name}.o": obj}, target=triple,
                                 constant_bytes=n)
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # the options live in the driver; a backend only reads them
    from aotc.hlo import Instruction, Module
    from aotc.passes.buffer_assignment import BufferAssignment
    from aotc.passes.pass_base import Pass

__all__ = ["Backend", "BackendFlag", "BackendOptionError", "BackendResult"]


class BackendOptionError(ValueError):
    """A backend option (a target, an architecture) that cannot work; names the flag."""


@dataclass(frozen=True)
class BackendFlag:
    """A command-line flag that only one backend understands.

    `BackendFlag("gpu_arch", ...)` is `--gpu_arch` on the CLI and `gpu_arch=` in
    `aotc.compile`; giving it with another backend is an error. `choices`, when set, are
    the only values accepted.
    """

    name: str
    help: str
    default: str = ""
    choices: tuple[str, ...] | None = None


@dataclass
class BackendResult:
    """What a backend produced for one module.

    `files` maps a plain file name inside the artifact directory to its contents and holds
    at least `<name>.o`, the object a program links. `scratch_bytes` are bytes the backend
    reserves for itself at the end of the temp arena, at offset
    `align(assignment.temp_bytes, BUFFER_ALIGNMENT)`; the Program's `temp_bytes` covers
    them. `info` goes into `Program.backend_info` (and the metadata JSON); `stages` are
    named intermediate texts ("llvm-ir", "ptx", ...) that `--dump-hlo` writes out.
    """

    files: dict[str, bytes]
    target: str
    constant_bytes: int = 0
    scratch_bytes: int = 0
    info: dict[str, str] = field(default_factory=dict)
    stages: dict[str, str] = field(default_factory=dict)


class Backend(abc.ABC):
    """One code generator. Subclasses set `name` (the `--backend` value) and `flags`, and
    implement `compile`; `__init__` is the place to validate their own options once."""

    name: ClassVar[str]
    flags: ClassVar[tuple[BackendFlag, ...]] = ()

    def __init__(self, options: Any):
        # The driver's resolved, frozen CompileOptions: entry_point, name, target_triple,
        # threads, ... and `backend_flag(name)` for this backend's own flags.
        self.options = options

    def hlo_passes(self) -> list[Pass]:
        """HLO passes to run after the shared optimization pipeline, before layout
        assignment and scheduling. None by default."""
        return []

    def scratch_bytes(self, inst: Instruction) -> int:
        """Bytes of temp-arena scratch the code of `inst` (an instruction of the laid-out,
        scheduled module, or of a computation it calls) needs while it runs: buffer
        assignment reserves them, live at that instruction only. None by default."""
        return 0

    @abc.abstractmethod
    def compile(self, module: Module, assignment: BufferAssignment) -> BackendResult:
        """Generate code for the optimized, scheduled `module` with `assignment`'s buffers.

        The object's entry function has the calling convention of aotc.runtime.program.
        """

    @abc.abstractmethod
    def data_object(self, symbol: str, data: bytes) -> bytes:
        """A relocatable object for the host side of this backend's target that defines
        `symbol` as a const byte array holding `data` (no symbol when `symbol` is "")."""
