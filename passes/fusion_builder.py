"""The mechanics of fusion: wrapping an instruction in a `fusion` and merging producers
into it (XLA's HloInstruction::FuseInstruction and friends).

A fusion's operands are distinct and parameter k of its fused computation stands for
operand k. Merging a producer replaces the parameter that stood for it by a copy of the
producer (or of a fused producer's body), whose own operands become operands of the
fusion, reusing a parameter when the fusion already has that operand.

Names stay unique across the module: an instruction that moves into a fused computation
(a consumer wrapped, a producer fused into its only user) keeps its name, since it leaves
the computation it was in; a copy of a producer that also stays behind gets a fresh name.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..hlo.ir import Computation, Instruction
from ..hlo.shape import Shape
from .fusion_analysis import fused_computation, fusion_kind, is_splat_constant
from .naming import NameUniquer

_computation_ids = itertools.count()


def wrap_in_fusion(inst: Instruction, names: NameUniquer) -> Instruction:
    """A kLoop fusion computing `inst` from `inst`'s distinct operands (not yet placed in
    any computation; the caller swaps it in for `inst`)."""
    operands = list(dict.fromkeys(inst.operands))
    computation = Computation(f"fused_computation.{next(_computation_ids)}")
    params = {op: _parameter(computation, k, op, names) for k, op in enumerate(operands)}
    body = inst.clone([params[op] for op in inst.operands], name=inst.name)
    computation.add(body)
    computation.root = body
    fusion = Instruction("fusion", inst.shape, operands, {"kind": "kLoop"}, [computation],
                         name=names.fresh("fusion"), metadata=inst.metadata)
    fusion.attrs["kind"] = fusion_kind(computation)
    return fusion


def merge_producer(fusion: Instruction, producer: Instruction, names: NameUniquer, *,
                   duplicate: bool) -> None:
    """Compute `producer` (an operand of `fusion`) inside the fusion.

    duplicate: `producer` stays where it is for its other users, so what moves into the
    fusion is a copy under fresh names.
    """
    computation = fused_computation(fusion)
    params = computation.parameters
    target = params[fusion.operands.index(producer)]
    by_operand = dict(zip(fusion.operands, params))

    def parameter_for(op: Instruction) -> Instruction:
        if op not in by_operand:
            by_operand[op] = _parameter(computation, len(fusion.operands), op, names)
            fusion.operands.append(op)
        return by_operand[op]

    def name_of(inst: Instruction) -> str:
        if not duplicate:
            names.claim(inst.name)
            return inst.name
        return names.fresh(inst.name)

    if producer.opcode == "fusion":
        new, result = _copy_body(fused_computation(producer), producer.operands, parameter_for,
                                 name_of)
    elif is_splat_constant(producer) and producer.shape.rank > 0:
        new = _splat(producer, name_of(producer), names)
        result = new[-1]
    else:
        result = producer.clone([parameter_for(op) for op in producer.operands],
                                name=name_of(producer))
        new = [result]

    for inst in computation.instructions:
        if target in inst.operands:  # cheap test: the fused body can be hundreds long
            inst.replace_operand(target, result)
    if computation.root is target:
        computation.root = result
    _remove_parameter(fusion, computation, target)
    # Parameters first, then the producer's copy (it uses only parameters), then the rest
    # (which may now use the copy): a topological order.
    params = [i for i in computation.instructions if i.opcode == "parameter"]
    rest = [i for i in computation.instructions if i.opcode != "parameter"]
    computation.instructions = params + new + rest
    fusion.attrs["kind"] = fusion_kind(computation)


def _copy_body(body: Computation, operands, parameter_for, name_of):
    """Copies of `body`'s instructions with its parameters bound to `operands`."""
    mapping = {p: parameter_for(op) for p, op in zip(body.parameters, operands)}
    new = []
    for inst in body.instructions:
        if inst.opcode == "parameter":
            continue
        mapping[inst] = inst.clone([mapping[op] for op in inst.operands], name=name_of(inst))
        new.append(mapping[inst])
    return new, mapping[body.root]


def _splat(constant: Instruction, name: str, names: NameUniquer) -> list[Instruction]:
    """A splat constant as a scalar constant and a broadcast: no array data to carry."""
    shape = constant.shape
    value = np.asarray(constant.attrs["literal"]).reshape(-1)[:1].reshape(())
    scalar = Instruction("constant", Shape(shape.element_type), attrs={"literal": value.copy()},
                         name=names.fresh(f"{name}.scalar"), metadata=constant.metadata)
    splat = Instruction("broadcast", shape, [scalar], {"dimensions": ()}, name=name,
                        metadata=constant.metadata)
    return [scalar, splat]


def _parameter(computation: Computation, number: int, operand: Instruction,
               names: NameUniquer) -> Instruction:
    """Parameter `number`, standing for `operand` (and named after it, for readers)."""
    param = Instruction("parameter", operand.shape, attrs={"parameter_number": number},
                        name=names.fresh(f"{operand.name}.param"))
    return computation.add(param)


def _remove_parameter(fusion: Instruction, computation: Computation,
                      param: Instruction) -> None:
    """Drop `param` and its operand; renumber the rest so parameter k is operand k."""
    k = param.attrs["parameter_number"]
    del fusion.operands[k]
    computation.instructions.remove(param)
    for p in computation.instructions:
        if p.opcode == "parameter" and p.attrs["parameter_number"] > k:
            p.attrs = {**p.attrs, "parameter_number": p.attrs["parameter_number"] - 1}
