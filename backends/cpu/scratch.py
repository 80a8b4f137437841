"""The temp-arena scratch the CPU backend's kernels need while they run.

A GEMM whose B operand is fed (not a constant packed at compile time) packs each KC x NC
block of B into a buffer before the micro-kernels read it. Each concurrently running task
needs its own: `task_slots(tasks, threads)` slots (the --threads figure at most, one for
--threads 1) of `GemmEmitter.pack_bytes` each. Buffer assignment reserves them, live at
that instruction only (passes/buffer_assignment.py), so they share the arena with values
that are dead meanwhile; the kernel's task in slot s packs into slot s
(backends/cpu/tasks.py). Nothing lives on the worker threads' stacks.
"""

from __future__ import annotations

from aotc.hlo import Instruction
from aotc.passes.fusion_analysis import KINDS_WITH_HERO, find_hero, fused_computation

from .gemm import GemmEmitter, prepare_gemm
from .tasks import task_slots


def _constant(inst: Instruction) -> Instruction | None:
    return inst if inst.opcode == "constant" else None


def planned_gemm(target, inst: Instruction, threads: int) -> GemmEmitter | None:
    """The packed GEMM the backend emits for `inst`: a dot, or a fusion whose hero is a dot
    placed in the fusion's buffer (backends/cpu/fusion_emitter.py); None for anything else."""
    if inst.opcode == "dot":
        return prepare_gemm(target, inst, _constant, threads)
    if inst.opcode != "fusion" or inst.shape.is_tuple \
            or inst.attrs.get("kind") not in KINDS_WITH_HERO:
        return None
    computation = fused_computation(inst)
    hero = find_hero(computation)
    if hero is None or hero.opcode != "dot" or not hero.shape.same_array(inst.shape):
        return None
    bound = dict(zip(computation.parameters, inst.operands))
    return prepare_gemm(target, hero, lambda i: _constant(bound.get(i, i)), threads)


def scratch_bytes(target, inst: Instruction, threads: int) -> int:
    """Scratch bytes `inst` needs while it runs with at most `threads` tasks at once."""
    gemm = planned_gemm(target, inst, threads)
    if gemm is None or not gemm.pack_bytes:
        return 0
    return task_slots(gemm.tasks, threads) * gemm.pack_bytes


__all__ = ["planned_gemm", "scratch_bytes"]
