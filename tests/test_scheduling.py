"""Memory scheduling: valid orders, never a bigger arena than the current order, and a
smaller one where the builder's order keeps big values alive together."""

import itertools

import numpy as np

from aotc.hlo import Builder, Shape, scalar_computation, verify
from aotc.hlo.evaluation import evaluate
from aotc.passes.buffer_assignment import assign_buffers
from aotc.passes.layout_assignment import LayoutAssignment
from aotc.passes.pipeline import Pipeline, default_pipeline
from aotc.passes.scheduling import MemoryScheduler, dfs_schedule, list_schedule
from random_modules import random_inputs, random_module

N = 4096  # elements of each big temporary


def _breadth_first_module(branches=3):
    """Each branch broadcasts a small parameter to a big value and reduces it back; the
    builder creates every big value first, so all of them are live at once."""
    b = Builder("branches")
    x = b.parameter(Shape.array("f32", [8]), "x")
    add = scalar_computation("add", "f32")
    big = [b.unary("exponential", b.broadcast(x, (N // 8, 8), [1])) for _ in range(branches)]
    small = [b.reduce(v, b.constant(np.float32(0)), [0, 1], add) for v in big]
    total = small[0]
    for s in small[1:]:
        total = b.binary("add", total, s)
    b.tuple([total])
    return b.module()


def _is_topological(order, comp):
    position = {inst: p for p, inst in enumerate(order)}
    return (sorted(position, key=id) == sorted(comp.instructions, key=id)
            and all(position[op] < position[inst] for inst in order for op in inst.operands))


def test_list_scheduler_finishes_one_branch_before_starting_the_next():
    module = _breadth_first_module()
    before = assign_buffers(module).temp_bytes
    scheduler = MemoryScheduler()
    assert scheduler.run(module)
    verify(module)
    after = assign_buffers(module).temp_bytes
    # Builder order: three big values live together (each computed in place over its
    # broadcast); scheduled: one at a time. (Plus 64-byte slots for the scalar sums.)
    assert before == 3 * N * 4 + 64 and after == N * 4 + 2 * 64
    assert scheduler.arena_bytes["current"] == before and scheduler.arena_bytes[scheduler.chosen] == after


def test_schedules_are_complete_and_topological():
    for seed in range(20):
        module = random_module(seed)
        LayoutAssignment().run(module)
        for schedule in (list_schedule, dfs_schedule):
            assert _is_topological(schedule(module.entry), module.entry)


def test_the_scheduler_never_grows_the_arena_and_keeps_values():
    for seed, fusion in itertools.product(range(30), (False, True)):
        module = random_module(seed, steps=20)
        inputs = random_inputs(module, seed)
        expected = evaluate(module, *inputs)
        Pipeline("test", [default_pipeline(fusion=fusion), LayoutAssignment()]).run(module)
        before = assign_buffers(module).temp_bytes
        scheduler = MemoryScheduler()
        changed = scheduler.run(module)
        verify(module)
        after = assign_buffers(module).temp_bytes
        assert after <= before and after == min(scheduler.arena_bytes.values())
        assert changed or scheduler.chosen == "current"
        for got, want in zip(evaluate(module, *inputs), expected):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_an_order_that_is_already_best_is_kept():
    module = _breadth_first_module(branches=1)
    order = list(module.entry.instructions)
    assert not MemoryScheduler().run(module)
    assert module.entry.instructions == order
