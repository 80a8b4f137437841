"""The `Program`: the ABI of one compiled artifact, shared by the driver, the backends and
the runtime.

A backend turns an optimized HLO module into code (an object file, PTX, ...); the driver
describes how to call it with a Program. This module is neutral ground: it imports nothing
of aotc, so the runtime (the Python loader) can read an artifact without the compiler. The description is all the templates (header, generated
test and benchmark) and the Python loader need; it is also written verbatim to
`<name>.json` so that the loader can work without importing the compiler.

The calling convention of every entry function is fixed (see runtime/aotc_runtime.h):

    int32_t ENTRY(void* const* args, void* const* results, void* temps,
                  const AotcRunOptions* options);

`args` holds one pointer per `Program.args` entry (feeds first, then variables), `results`
one per `Program.results` entry (fetches first, then updated variables), and `temps` points
at one arena of `Program.temp_bytes` bytes. Every buffer is 64-byte aligned. The return
value is 0 on success.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import numpy as np

#: Every buffer handed to or allocated by generated code is aligned to this many bytes.
BUFFER_ALIGNMENT = 64

#: NumPy dtype name -> C element type used in the generated header.
C_TYPES = {
    "bool": "bool",
    "int8": "int8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "int64": "int64_t",
    "uint8": "uint8_t",
    "uint16": "uint16_t",
    "uint32": "uint32_t",
    "uint64": "uint64_t",
    "float16": "uint16_t",  # IEEE half: C has no portable type; callers see raw bits
    "bfloat16": "uint16_t",
    "float32": "float",
    "float64": "double",
    # (real, imaginary) pairs: std::complex in C++, the layout of C's float _Complex and
    # double _Complex (the C API passes buffers as void*).
    "complex64": "std::complex<float>",
    "complex128": "std::complex<double>",
}


@dataclass
class TensorSpec:
    """One argument or result buffer of a compiled program.

    `name` is the C-identifier-safe name from the Config (`Feed.name`/`Fetch.name`), or ""
    when the Config gives none (tfcompile then generates no named accessor). `node` is the
    graph tensor it comes from, e.g. "x_hold" or "split:1", for messages and metadata only.
    """

    name: str
    node: str
    dtype: str  # NumPy dtype name, a key of C_TYPES
    shape: tuple[int, ...]

    @property
    def num_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def size_bytes(self) -> int:
        return self.num_elements * np.dtype(self.numpy_dtype).itemsize

    @property
    def numpy_dtype(self):
        if self.dtype == "bfloat16":
            return np.uint16
        return np.dtype(self.dtype)

    @property
    def c_type(self) -> str:
        return C_TYPES[self.dtype]


@dataclass
class VariableSpec(TensorSpec):
    """A resource variable of the Config: an argument, and a result too unless readonly.

    `arg_index` is its position in `Program.args`; `result_index` its position in
    `Program.results`, or -1 for a readonly variable.
    """

    readonly: bool = False
    arg_index: int = -1
    result_index: int = -1


@dataclass
class Program:
    """How to call one compiled entry function, and what it computes.

    `target` is the LLVM triple of the object file; `backend` is the name of the backend
    that compiled it (a key of aotc.backends.registry), and `backend_info` holds facts
    that only that backend has (the CUDA backend's GPU architecture, say). `program_shape` is the XLA-style signature text,
    e.g. "(f32[2,3], f32[3,2]) -> (f32[2,2])".

    `gen_name_to_index` and `gen_program_shape` mirror tfcompile's flags of the same
    names: without them the generated class's Lookup*Index methods return -1,
    HasNameIndices() is false and ProgramShape() returns nullptr.
    """

    name: str  # base name of the files: <name>.o, <name>.h, <name>.json
    cpp_class: str  # fully qualified, e.g. "foo::bar::MatMulComp"
    entry_symbol: str
    args: list[TensorSpec]
    results: list[TensorSpec]
    variables: list[VariableSpec] = field(default_factory=list)
    temp_bytes: int = 0
    constant_bytes: int = 0
    target: str = ""
    backend: str = "cpu"
    backend_info: dict[str, str] = field(default_factory=dict)
    program_shape: str = ""
    gen_name_to_index: bool = False
    gen_program_shape: bool = False

    @property
    def namespaces(self) -> list[str]:
        return self.cpp_class.split("::")[:-1]

    @property
    def class_name(self) -> str:
        return self.cpp_class.split("::")[-1]

    def to_json(self) -> str:
        """The `<name>.json` metadata file's text."""
        data = dataclasses.asdict(self)
        for spec in data["args"] + data["results"] + data["variables"]:
            spec["shape"] = list(spec["shape"])
        for kind in ("args", "results", "variables"):
            for spec, obj in zip(data[kind], getattr(self, kind)):
                spec["size_bytes"] = obj.size_bytes
        data["buffer_alignment"] = BUFFER_ALIGNMENT
        if not data["backend_info"]:
            del data["backend_info"]  # most backends have nothing to add
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Program":
        """Inverse of `to_json`."""
        data = json.loads(text)
        data.pop("buffer_alignment", None)

        def specs(kind, spec_cls):
            out = []
            for spec in data.pop(kind):
                spec.pop("size_bytes", None)
                spec["shape"] = tuple(spec["shape"])
                out.append(spec_cls(**spec))
            return out

        return cls(
            args=specs("args", TensorSpec),
            results=specs("results", TensorSpec),
            variables=specs("variables", VariableSpec),
            **data,
        )
