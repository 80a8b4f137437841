"""while and conditional: host control flow around the kernels of the computations they
call (passes/control_flow_buffers.py places those computations' buffers in the caller's
temp region; backends/cpu/control_flow.py is the CPU's version of the same protocol).

A while becomes: copy kernels putting the initial values into the state buffers, then a
`WhileLoop` step: the condition's kernels, the host reads the predicate back, and while
it holds the body's kernels and copy kernels moving the next state into the state
buffers. A conditional becomes a `Conditional` step: the host reads the selector and
runs one branch's kernels, which write straight into the conditional's buffers.
"""

from __future__ import annotations

from aotc.backends.cpu.buffers import BufferView
from aotc.backends.cpu.control_flow import element_pointers
from aotc.backends.cpu.llvm_types import I8, int_const
from aotc.hlo import Instruction

from .kernel_emitter import KernelEmitter, kernel_rule
from .launch_plan import Conditional, WhileLoop


def _copy_kernels(em: KernelEmitter, inst: Instruction, shapes, targets, sources) -> None:
    """One kernel per element: targets[k]() = sources[k]() (pointer makers, called inside
    the kernel), skipping elements whose buffers are the same."""
    for shape, target, source in zip(shapes, targets, sources):
        def body(index, shape=shape, target=target, source=source):
            BufferView(em.cg, target(), shape).store(index, BufferView(em.cg, source(), shape).load(index))

        em.elementwise_kernel(inst, shape, body)


def _temp(em: KernelEmitter, offset: int):
    """A pointer `offset` bytes into the current kernel's temp arena."""
    temps = em.function.args[-1]
    return em.cg.builder.gep(temps, [int_const(offset)], inbounds=True, source_etype=I8)


@kernel_rule("while")
def while_plan(em: KernelEmitter, inst: Instruction) -> None:
    buffers = em.assignment.nested[inst]
    shapes = list(inst.shape.tuple_shapes)
    count = len(shapes)
    same = [a == b for a, b in zip(em.element_refs(inst), em.element_refs(inst.operands[0]))]
    keep = [k for k in range(count) if not same[k]]
    _copy_kernels(em, inst, [shapes[k] for k in keep],
                  [lambda k=k: element_pointers(em, inst)[k] for k in keep],
                  [lambda k=k: element_pointers(em, inst.operands[0])[k] for k in keep])
    state = em.element_refs(inst)
    region = em.temp_ref(buffers.temp_offset)
    predicate = em.temp_ref(buffers.condition_result_offset)
    following = [em.temp_ref(offset) for offset in buffers.body_result_offsets]
    condition = em.child_plan(buffers.condition, state, [predicate], region)
    with em.collecting() as body:
        em.plan.extend(em.child_plan(buffers.body, state, following, region))
        elements = buffers.body.result_elements
        _copy_kernels(em, inst, [shapes[e] for e in elements],
                      [lambda e=e: element_pointers(em, inst)[e] for e in elements],
                      [lambda offset=offset: _temp(em, offset) for offset in buffers.body_result_offsets])
    em.plan.append(WhileLoop(inst.name, tuple(condition), predicate, tuple(body)))


@kernel_rule("conditional")
def conditional_plan(em: KernelEmitter, inst: Instruction) -> None:
    buffers = em.assignment.nested[inst]
    results = em.element_refs(inst)
    region = em.temp_ref(buffers.temp_offset)
    branches = [tuple(em.child_plan(flat, em.element_refs(operand), results, region))
                for flat, operand in zip(buffers.branches, inst.operands[1:])]
    selector = inst.operands[0]
    em.plan.append(Conditional(inst.name, em.ref_of(selector),
                               selector.shape.element_type.is_pred, tuple(branches)))
