"""`aotc compile --report`: what the compiled program does at run time, in numbers.

A *kernel* is an instruction of the entry computation that the backend emits as code (a
loop nest, or a memcpy for a reshape or copy): everything except parameters, constants and
the views that only name another buffer (tuple, get-tuple-element, bitcast). A fusion is
one kernel however many ops it holds; those are counted as *fused ops*.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

#: Entry opcodes that emit no code: their values live in the caller's, the object file's
#: or another instruction's buffer.
NO_CODE = frozenset({"parameter", "constant", "tuple", "get-tuple-element", "bitcast"})


@dataclass
class CompileReport:
    """The summary `--report` prints (see the module docstring for the terms)."""

    name: str
    kernels: int
    kernels_by_op: Counter = field(default_factory=Counter)  # "fusion(kLoop)", "dot", ...
    fused_ops: int = 0
    temp_bytes: int = 0
    unshared_temp_bytes: int = 0
    constant_bytes: int = 0
    arg_bytes: int = 0
    result_bytes: int = 0
    result_copies: int = 0
    stage_seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage

    @property
    def fusions(self) -> int:
        return sum(n for op, n in self.kernels_by_op.items() if op.startswith("fusion"))

    def format(self) -> str:
        by_op = ", ".join(f"{n} {op}" for op, n in sorted(self.kernels_by_op.items(),
                                                           key=lambda kv: (-kv[1], kv[0])))
        lines = [
            f"aotc report for {self.name}:",
            f"  kernels:    {self.kernels}" + (f" ({by_op})" if by_op else ""),
            f"  fused ops:  {self.fused_ops} in {self.fusions} fusions",
            f"  temp arena: {self.temp_bytes} bytes "
            f"(unshared sum of temporaries: {self.unshared_temp_bytes} bytes)",
            f"  constants:  {self.constant_bytes} bytes",
            f"  args:       {self.arg_bytes} bytes",
            f"  results:    {self.result_bytes} bytes"
            + (f" ({self.result_copies} copied at the end)" if self.result_copies else ""),
        ]
        if self.stage_seconds:
            times = ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in
                              self.stage_seconds.items())
            lines.append(f"  time:       {times} "
                         f"(total {sum(self.stage_seconds.values()):.2f} s)")
        return "\n".join(lines)


def build_report(module, assignment, constant_bytes: int | None = None,
                 stage_seconds: dict[str, float] | None = None) -> CompileReport:
    """The report of an optimized `module` with its buffer `assignment`.

    constant_bytes: what the backend emitted (default: buffer assignment's count of
    constant buffers); stage_seconds: wall time per compile stage, if measured.
    """
    kernels: Counter = Counter()
    fused_ops = 0
    for inst in module.entry.instructions:
        if inst.opcode in NO_CODE:
            continue
        if inst.opcode == "fusion":
            kernels[f"fusion({inst.attrs.get('kind')})"] += 1
            fused_ops += sum(i.opcode != "parameter"
                             for i in inst.called_computations[0].instructions)
        else:
            kernels[inst.opcode] += 1
    if constant_bytes is None:
        constant_bytes = assignment.constant_bytes
    return CompileReport(
        name=module.name,
        kernels=sum(kernels.values()),
        kernels_by_op=kernels,
        fused_ops=fused_ops,
        temp_bytes=assignment.temp_bytes,
        unshared_temp_bytes=assignment.unshared_temp_bytes,
        constant_bytes=constant_bytes,
        arg_bytes=sum(p.shape.byte_size for p in module.entry.parameters),
        result_bytes=sum(r.shape.byte_size for r in assignment.results),
        result_copies=len(assignment.result_copies),
        stage_seconds=dict(stage_seconds or {}),
    )


def compilation_report(compilation) -> CompileReport:
    """The report of an `aotc.compiler.Compilation`."""
    return build_report(compilation.module, compilation.assignment,
                        compilation.program.constant_bytes, compilation.stage_seconds)
