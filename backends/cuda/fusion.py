"""Fusions as kernels: a loop fusion is one thread per output element (the elemental
generator computes every fused producer per element); a fusion around a hero (a reduce
or a dot) is that hero's kernel, reading fused producers per element and applying the
epilogue where it stores each output element (kernel_emitter.HeroContext); a fusion of
several heroes (a row group of row_fusion.py) has a kernel by kind (`GROUP_KERNELS`)."""

from __future__ import annotations

from typing import Callable

from aotc.hlo import Instruction
from aotc.hlo.registry import Registry
from aotc.passes.fusion_analysis import KINDS_WITH_HERO, find_hero, fused_computation

from .kernel_emitter import HeroContext, KernelEmitter, call_kernel, kernel_rule

#: Hero opcode -> emit(em, hero, context) -> whether it emitted a kernel (False: the
#: instruction has a shape its kernel does not handle, so the caller falls back).
HeroKernel = Callable[[KernelEmitter, Instruction, HeroContext], bool]
HERO_KERNELS: Registry[HeroKernel] = Registry("CUDA hero kernel")


def hero_kernel(*opcodes: str):
    """Register the kernel of a hero opcode, used for it alone and for fusions around it."""
    return HERO_KERNELS.register(*opcodes)


#: Fusion kind -> emit(em, fusion) -> whether it emitted the fusion as one kernel of
#: several heroes (False: not such a fusion; the hero or loop kernel follows).
GroupKernel = Callable[[KernelEmitter, Instruction], bool]
GROUP_KERNELS: Registry[GroupKernel] = Registry("CUDA group kernel")


def group_kernel(*kinds: str):
    """Register the kernel of fusions of `kinds` that hold several heroes."""
    return GROUP_KERNELS.register(*kinds)


@kernel_rule("fusion")
def fusion_kernel(em: KernelEmitter, fusion: Instruction) -> None:
    group = GROUP_KERNELS.get(fusion.attrs.get("kind"))
    if group is not None and group(em, fusion):
        return  # a fusion of several heroes in one kernel (a softmax row: row_fusion.py)
    computation = fused_computation(fusion)
    hero = find_hero(computation) if fusion.attrs.get("kind") in KINDS_WITH_HERO else None
    emit = HERO_KERNELS.get(hero.opcode) if hero is not None else None
    if (emit is not None and not fusion.shape.is_tuple and hero.shape.same_array(fusion.shape)
            and emit(em, hero, HeroContext(em, hero, fusion))):
        return
    call_kernel(em, fusion)  # the root per element (also correct for a hero fusion)
