"""Buffer assignment: results and arguments in place, operands taken over in place,
temporaries packed without overlap; checked on hand-made and random modules, and on the
CPU backend against the evaluator."""

import itertools

import numpy as np
import pytest

from aotc.hlo import Builder, Instruction, Shape, parse_module, scalar_computation
from aotc.hlo.evaluation import evaluate
from aotc.passes.buffer_assignment import assign_buffers
from aotc.passes.heap_simulator import Block, _best_fit, pack
from aotc.passes.late_pipeline import layout_and_schedule_pipeline
from aotc.passes.pipeline import Pipeline, default_pipeline
from random_modules import random_inputs, random_module


def _chain_module(length=6, n=64):
    """x -> tanh -> exp -> ... a chain whose temporaries die one after another."""
    b = Builder("chain")
    x = b.parameter(Shape.array("f32", [n, n]), "x")
    value = x
    for i in range(length):
        value = b.unary(["tanh", "exponential", "negate"][i % 3], value)
    total = b.reduce(value, b.constant(np.float32(0)), [0, 1], scalar_computation("add", "f32"))
    b.tuple([value, total])
    return b.module()


# -- an independent oracle for liveness ------------------------------------------------------


def _buffer(inst):
    """The (owner, element) whose bytes `inst` names, resolving views."""
    if inst.opcode == "bitcast":
        return _buffer(inst.operands[0])
    if inst.opcode == "get-tuple-element":
        source = inst.operands[0]
        if source.opcode == "tuple":
            return _buffer(source.operands[inst.attrs["index"]])
        return (source, inst.attrs["index"])
    return (inst, -1)


def _temp_live_ranges(module, a):
    """(owner, element) -> (slice, first position, last position) for every temporary."""
    order = module.entry.instructions
    pos = {inst: p for p, inst in enumerate(order)}
    slices = {(i, -1): s for i, s in a.slices.items()}
    slices.update({(i, k): s for i, ss in a.tuple_slices.items() for k, s in enumerate(ss)})
    ranges = {key: [pos[key[0]], pos[key[0]]] for key, s in slices.items()
              if s is not None and s.kind == "temp"}

    def reads(inst):
        if inst.opcode == "tuple":
            return [k for op in inst.operands for k in reads(op)]
        return [_buffer(inst)]

    for inst in order:
        at = len(order) if inst is module.entry.root else pos[inst]
        for op in inst.operands:
            for key in reads(op):
                if key in ranges:
                    ranges[key][1] = max(ranges[key][1], at)
    return {key: (slices[key], *r) for key, r in ranges.items()}


def assert_no_conflicts(module, a):
    """No two temporaries live at the same time share a byte, except an operand and the
    instruction that took its buffer over, which meet only at that instruction."""
    ranges = _temp_live_ranges(module, a)
    assert all(s.offset % 64 == 0 and s.offset + s.size <= a.temp_bytes
               for s, _, _ in ranges.values())
    for (x, (sx, fx, lx)), (y, (sy, fy, ly)) in itertools.combinations(ranges.items(), 2):
        memory = sx.offset < sy.offset + sy.size and sy.offset < sx.offset + sx.size
        if not memory or sx.size == 0 or sy.size == 0 or lx < fy or ly < fx:
            continue
        taken = a.shared_with.get(y[0]) is not None and _buffer(a.shared_with[y[0]]) == x
        taken_back = a.shared_with.get(x[0]) is not None and _buffer(a.shared_with[x[0]]) == y
        assert (taken and lx == fy) or (taken_back and ly == fx), (x, y)


def _optimized(seed, fusion):
    module = random_module(seed)
    Pipeline("test", [default_pipeline(fusion=fusion), layout_and_schedule_pipeline()]).run(module)
    return module


# -- packing -----------------------------------------------------------------------------


def test_chain_runs_in_place_and_the_arena_shrinks():
    module = _chain_module()
    separate = assign_buffers(module, in_place=False)
    shared = assign_buffers(module)
    assert separate.temp_bytes == 2 * 64 * 64 * 4  # a value and its consumer are live together
    assert shared.temp_bytes == 64 * 64 * 4  # every link overwrites the one before
    order = module.entry.instructions
    # tanh reads the parameter (never taken over); each later link takes its operand's buffer.
    assert [i.opcode for i in shared.shared_with] == ["exponential", "negate", "tanh", "exponential"]
    for user, operand in shared.shared_with.items():
        assert user.operands[0] is operand and shared.slice_of(user) == shared.slice_of(operand)
    assert_no_conflicts(module, shared)
    assert order[-1].opcode == "tuple"


def test_temporaries_never_overlap_while_live_on_random_modules():
    for seed, fusion in itertools.product(range(40), (False, True)):
        module = _optimized(seed, fusion)
        for in_place in (False, True):
            assert_no_conflicts(module, assign_buffers(module, in_place=in_place))


def test_arguments_constants_and_results_are_never_taken_over():
    b = Builder("m")
    x = b.parameter(Shape.array("f32", [16]), "x")
    c = b.constant(np.arange(16, dtype=np.float32))
    y = b.unary("negate", x)  # reads an argument: needs its own buffer
    z = b.binary("add", c, y)  # reads a constant; y dies here and is taken over
    r = b.unary("exponential", z)  # returned: computed into the caller's result buffer
    q = b.unary("tanh", r)  # r dies here, but a result buffer is never taken over
    b.tuple([r, b.reduce(q, b.constant(np.float32(0)), [0], scalar_computation("add", "f32"))])
    module = b.module()
    a = assign_buffers(module)
    assert a.shared_with == {z: y}
    assert a.slices[r].kind == "result" and a.slices[q].kind == "temp"
    assert_no_conflicts(module, a)


def test_an_operand_read_later_is_not_overwritten():
    b = Builder("m")
    x = b.parameter(Shape.array("f32", [16]), "x")
    y = b.unary("exponential", x)
    z = b.unary("negate", y)  # y is read again below: z needs its own buffer
    w = b.binary("add", z, y)  # both die here
    v = b.unary("tanh", w)
    b.tuple([b.reduce(v, b.constant(np.float32(0)), [0], scalar_computation("add", "f32"))])
    module = b.module()
    a = assign_buffers(module)
    assert z not in a.shared_with and a.shared_with[w] in (y, z) and a.shared_with[v] is w
    assert_no_conflicts(module, a)


def test_only_same_size_same_layout_operands_are_taken_over():
    b = Builder("m")
    x = b.parameter(Shape.array("f32", [8, 4]), "x")
    y = b.unary("exponential", x)
    z = b.compare(y, y, "GT")  # pred is 1 byte: a different address per index
    t = b.unary("negate", b.unary("tanh", x))
    t.operands[0].shape = t.operands[0].shape.with_layout((0, 1))  # same dims, other layout
    b.tuple([b.convert(z, "f32"), t])
    a = assign_buffers(b.module())
    assert z not in a.shared_with and t not in a.shared_with


LOOP_FUSIONS = """
HloModule fusions

elementwise {
  p = f32[4,6]{1,0} parameter(0)
  ROOT e = f32[4,6]{1,0} exponential(p)
}

transposing {
  p = f32[4,6]{1,0} parameter(0)
  t = f32[6,4]{1,0} transpose(p), dimensions={1,0}
  ROOT r = f32[4,6]{1,0} reshape(t)
}

reshaping {
  p = f32[4,6]{1,0} parameter(0)
  r = f32[24]{0} reshape(p)
  ROOT e = f32[24]{0} tanh(r)
}

ENTRY m {
  x = f32[4,6]{1,0} parameter(0)
  a = f32[4,6]{1,0} negate(x)
  b = f32[4,6]{1,0} fusion(a), kind=kLoop, calls=elementwise
  c = f32[4,6]{1,0} fusion(b), kind=kLoop, calls=transposing
  d = f32[24]{0} fusion(c), kind=kLoop, calls=reshaping
  e = f32[] constant(0)
  ROOT t = (f32[]) tuple(e)
}
"""


def test_loop_fusions_take_over_operands_they_read_at_the_written_position():
    module = parse_module(LOOP_FUSIONS)
    root = module.entry.root
    d = module.entry.instructions[-3]
    root.operands = [d]  # return d (the text's root keeps the parser happy about names)
    root.shape = Shape.tuple([d.shape])
    a = assign_buffers(module)
    names = {user.name: operand.name for user, operand in a.shared_with.items()}
    # b reads a elementwise; c reads b transposed (no); d reads c through a reshape of
    # row-major buffers, but d is the result and needs no temporary.
    assert names == {"b": "a"}
    assert_no_conflicts(module, a)


def test_bitcast_results_are_computed_straight_into_the_result_buffer():
    b = Builder("m")
    x = b.parameter(Shape.array("f32", [4, 6]), "x")
    y = b.unary("exponential", x)
    view = b.computation.add(Instruction("bitcast", Shape.array("f32", [24]), [y]))
    b.tuple([view])
    a = assign_buffers(b.module())
    assert a.slices[y].kind == "result" and a.slice_of(view) == a.slices[y]
    assert a.result_copies == [] and a.temp_bytes == 0


def test_results_are_written_in_place_or_copied():
    b = Builder("m")
    x = b.parameter(Shape.array("f32", [4]), "x")
    y = b.unary("negate", x)
    c = b.constant(np.arange(4, dtype=np.float32))
    b.tuple([y, x, c, y])
    a = assign_buffers(b.module())
    assert a.slices[x].kind == "arg" and a.slices[c].kind == "constant"
    # y is returned twice: computed into a temp and copied into both results.
    assert a.slices[y].kind == "temp"
    assert [i for i, _ in a.result_copies] == [0, 1, 2, 3]
    assert a.temp_bytes == 64


def test_single_use_result_goes_straight_to_the_result_buffer():
    b = Builder("m")
    x = b.parameter(Shape.array("f32", [4]), "x")
    y = b.unary("negate", x)
    b.tuple([y])
    a = assign_buffers(b.module())
    assert a.slices[y] == a.slice_of(y)
    assert a.slices[y].kind == "result" and a.slices[y].index == 0
    assert a.result_copies == [] and a.temp_bytes == 0


def test_entry_root_must_be_a_tuple():
    b = Builder("m")
    b.unary("negate", b.parameter(Shape.array("f32", [4]), "x"))
    with pytest.raises(ValueError, match="must be a tuple"):
        assign_buffers(b.module())


def test_report_and_byte_counts():
    module = _chain_module(length=3)
    a = assign_buffers(module)
    assert (a.arg_bytes, a.result_bytes, a.constant_bytes) == (64 * 64 * 4, 64 * 64 * 4 + 4, 4)
    text = a.report()
    for line in ("args: 16384 bytes", "results: 16388 bytes", "temp arena: 16384 bytes",
                 "constants: 4 bytes", "in place of"):
        assert line in text
    for inst in module.entry.instructions:
        if inst.opcode != "tuple":
            assert inst.name in text


def test_heap_simulator_shares_space_between_disjoint_lifetimes():
    blocks = [Block(100, 0, 1), Block(64, 2, 3), Block(200, 1, 2), Block(64, 4, 4)]
    offsets, size = pack(blocks)
    assert size == 256 + 128  # the 200-byte block overlaps both small ones in time
    assert offsets[1] == offsets[3] or offsets[1] + 64 <= offsets[3] or offsets[3] + 64 <= offsets[1]
    for (i, a), (j, b) in itertools.combinations(enumerate(blocks), 2):
        if a.start <= b.end and b.start <= a.end:
            assert offsets[i] + a.size <= offsets[j] or offsets[j] + b.size <= offsets[i]


def test_heap_simulator_picks_the_smallest_gap_that_fits():
    # Occupied [0,64), [192,256), [320,384): a 128-byte hole at 64 and a 64-byte one at 256.
    lows, highs = np.array([0, 192, 320]), np.array([64, 256, 384])
    assert _best_fit(lows, highs, 64) == 256  # the tight hole, keeping the big one free
    assert _best_fit(lows, highs, 128) == 64
    assert _best_fit(lows, highs, 192) == 384  # nothing fits: on top


# -- the CPU backend with aliasing -------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 6, 9])
def test_cpu_backend_matches_the_evaluator_with_in_place_buffers(seed):
    from compiled import Compiled

    for fusion in (False, True):
        module = random_module(seed, steps=20)
        inputs = random_inputs(module, seed)
        expected = evaluate(module, *inputs)
        Pipeline("test", [default_pipeline(fusion=fusion), layout_and_schedule_pipeline()]).run(module)
        compiled = Compiled(module)
        # Unfused, these seeds compute some values in place (fused, few temporaries remain).
        assert fusion or compiled.assignment.shared_with
        for got, want in zip(compiled(*inputs), expected):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_scratch_never_overlaps_values_live_at_its_instruction():
    """A backend's scratch (here: bytes for every instruction, from its position) is live
    at its instruction only: it shares no byte with a temporary live there, may reuse the
    bytes of dead ones, and the arena covers it."""
    def scratch(inst):
        return 0 if inst.opcode in ("parameter", "constant", "tuple") else 100 + 37 * len(inst.name)

    for seed in range(20):
        module = _optimized(seed, fusion=True)
        a = assign_buffers(module, scratch=scratch)
        assert_no_conflicts(module, a)
        order = module.entry.instructions
        position = {inst: p for p, inst in enumerate(order)}
        live = _temp_live_ranges(module, a)
        for inst, piece in a.scratch.items():
            assert piece.kind == "temp" and piece.size == scratch(inst)
            assert piece.offset % 64 == 0 and piece.offset + piece.size <= a.temp_bytes
            here = position[inst]
            for key, (s, first, last) in live.items():
                if first <= here <= last and s.size:
                    assert piece.offset + piece.size <= s.offset or s.offset + s.size <= piece.offset, \
                        (inst.name, key[0].name)
        assert set(a.scratch) == {i for i in order if scratch(i) > 0}
        # Without scratch the arena is no larger.
        assert assign_buffers(module).temp_bytes <= a.temp_bytes


def test_scratch_reuses_the_bytes_of_dead_values():
    """x -> e = exp(x), a temporary read by a reduce; then t = tanh(x), a result. Scratch
    at t fits where e was (dead by then): the arena does not grow; scratch at the reduce,
    where e is live, goes beside it."""
    b = Builder("reuse")
    x = b.parameter(Shape.array("f32", [64, 64]), "x")
    e = b.unary("exponential", x)
    total = b.reduce(e, b.constant(np.float32(0)), [0, 1], scalar_computation("add", "f32"))
    t = b.unary("tanh", x)
    b.tuple([total, t])
    module = b.module()
    assert assign_buffers(module).temp_bytes == 64 * 64 * 4  # e alone
    at_tanh = assign_buffers(module, scratch=lambda i: 4096 if i is t else 0)
    assert at_tanh.temp_bytes == 64 * 64 * 4
    assert at_tanh.scratch_of(t).offset == at_tanh.slice_of(e).offset
    at_reduce = assign_buffers(module, scratch=lambda i: 4096 if i is total else 0)
    assert at_reduce.temp_bytes == 64 * 64 * 4 + 4096
    assert at_reduce.scratch_of(e) is None and at_reduce.scratch_of(total).size == 4096
