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
from .fusion_analysis import dependents, fused_computation, fusion_kind, is_splat_constant
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
                   duplicate: bool, copies: dict | None = None,
                   producer_copies: dict | None = None) -> None:
    """Compute `producer` (an operand of `fusion`) inside the fusion.

    duplicate: `producer` stays where it is for its other users, so what moves into the
        fusion is a copy under fresh names.
    copies: what the fusion computes already, as {original instruction: its fused copy};
        updated here. What the producer brings that the fusion has a copy of is not
        copied again (nor read as a parameter): the fused code computes each value once,
        however many of its users were fused, and a chain whose values are reused
        (Philox rounds) fuses in linear, not exponential, size.
    producer_copies: the same map of a fusion `producer` (its fused instructions' originals).
    """
    computation = fused_computation(fusion)
    copies = {} if copies is None else copies
    params = computation.parameters
    target = params[fusion.operands.index(producer)]
    by_operand = dict(zip(fusion.operands, params))

    def value_of(op: Instruction) -> Instruction:
        """`op` (an instruction outside the fusion) inside it: a copy, else a parameter."""
        if op in copies:
            return copies[op]
        if op not in by_operand:
            by_operand[op] = _parameter(computation, len(fusion.operands), op, names)
            fusion.operands.append(op)
        return by_operand[op]

    def name_of(inst: Instruction) -> str:
        if not duplicate:
            names.claim(inst.name)
            return inst.name
        return names.fresh(inst.name)

    new: list[Instruction] = []
    if producer in copies:
        result = copies[producer]
    elif producer.opcode == "fusion":
        result = _copy_body(fused_computation(producer), producer.operands, value_of, name_of,
                            copies, producer_copies or {}, new)
    elif is_splat_constant(producer) and producer.shape.rank > 0:
        new = _splat(producer, name_of(producer), names)
        result = copies[producer] = new[-1]
    else:
        result = producer.clone([value_of(op) for op in producer.operands],
                                name=name_of(producer))
        new = [result]
        copies[producer] = result

    # A topological order: what does not read the producer's value (the new copies may
    # read copies already there), the new copies, then what reads it.
    after = set(dependents(computation, target))
    for inst in after:
        if target in inst.operands:
            inst.replace_operand(target, result)
    if computation.root is target:
        computation.root = result
    _remove_parameter(fusion, computation, target)
    computation.instructions = ([i for i in computation.instructions if i not in after] + new
                                + [i for i in computation.instructions if i in after])
    fusion.attrs["kind"] = fusion_kind(computation)


def read_instead(fusion: Instruction, fused: Instruction, operand: Instruction,
                 names: NameUniquer) -> None:
    """Make `fusion` read `operand` (an instruction outside it, of the same shape) where
    it computed its fused instruction `fused` (not the root): `fused`'s uses take a
    parameter standing for `operand`, and what only `fused` needed, instructions and
    parameters with their operands, is dropped."""
    computation = fused_computation(fusion)
    if operand in fusion.operands:
        param = computation.parameters[fusion.operands.index(operand)]
    else:
        param = _parameter(computation, len(fusion.operands), operand, names)
        fusion.operands.append(operand)
    for inst in computation.instructions:
        inst.replace_operand(fused, param)
    computation.sort()  # the new parameter was appended after its users
    computation.remove_dead()
    used = {op for inst in computation.instructions for op in inst.operands}
    for p in list(computation.parameters):
        if p not in used and p is not computation.root:
            _remove_parameter(fusion, computation, p)
    fusion.attrs["kind"] = fusion_kind(computation)


def _copy_body(body: Computation, operands, value_of, name_of, copies: dict,
               body_copies: dict, new: list) -> Instruction:
    """Copy `body`'s instructions with its parameters bound to `operands` (appending the
    copies to `new`), reusing the copies `copies` has; returns the root's copy."""
    original = {fused: origin for origin, fused in body_copies.items()}
    mapping = {p: value_of(op) for p, op in zip(body.parameters, operands)}
    for inst in body.instructions:
        if inst.opcode == "parameter":
            continue
        origin = original.get(inst, inst)
        if origin not in copies:
            copies[origin] = inst.clone([mapping[op] for op in inst.operands],
                                        name=name_of(inst))
            new.append(copies[origin])
        mapping[inst] = copies[origin]
    return mapping[body.root]


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
