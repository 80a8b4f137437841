"""Control flow: HLO `while`/`conditional` and TF functions, If/Case, While, TensorLists.

- HLO level: XLA text in (hand-written, `%` names), parse/print round trips, verifier
  errors, the evaluator's semantics, and the CPU backend against the evaluator.
- TF level: tf.function graphs (v2 control flow emits StatelessIf/If, StatelessCase,
  StatelessWhile/While, PartitionedCall) lowered by aotc and compared with TensorFlow, on
  the evaluator and compiled for the CPU; errors for recursion, unsupported ops inside
  functions and loop variables that change shape.

Tolerances: exact for integer results and data movement; 1e-6 (relative and absolute)
for f32 arithmetic, where the backend's inline exp/tanh may differ from NumPy's and TF's
by an ulp or two.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotc.hlo import Builder, Shape, parse_module, print_module, verify
from aotc.hlo.evaluation import evaluate
from aotc.hlo.parser import HloParseError
from aotc.hlo.verifier import HloVerifierError, find_problems
from aotc.passes.pipeline import default_pipeline
from compiled import Compiled, check_compiled as _check

F32_TOL = dict(rtol=1e-6, atol=1e-6)

# A counted loop over (counter, limit, accumulator, swap pair): the body permutes two
# elements, leaves `limit` unchanged and runs a conditional on the counter's parity.
LOOP_HLO = """
HloModule loops

%cond (state: (s32[], s32[], f32[4], f32[2], f32[2])) -> pred[] {
  %state = (s32[], s32[], f32[4]{0}, f32[2]{0}, f32[2]{0}) parameter(0)
  %i = s32[] get-tuple-element(%state), index=0
  %n = s32[] get-tuple-element(%state), index=1
  ROOT %lt = pred[] compare(%i, %n), direction=LT
}

%double (x: f32[4]) -> f32[4] {
  %x = f32[4]{0} parameter(0)
  ROOT %twice = f32[4]{0} add(%x, %x)
}

%decrement (x: f32[4]) -> f32[4] {
  %y = f32[4]{0} parameter(0)
  %one = f32[] constant(1)
  %ones = f32[4]{0} broadcast(%one), dimensions={}
  ROOT %less = f32[4]{0} subtract(%y, %ones)
}

%body (state: (s32[], s32[], f32[4], f32[2], f32[2])) -> (s32[], s32[], f32[4], f32[2], f32[2]) {
  %s = (s32[], s32[], f32[4]{0}, f32[2]{0}, f32[2]{0}) parameter(0)
  %i = s32[] get-tuple-element(%s), index=0
  %n = s32[] get-tuple-element(%s), index=1
  %acc = f32[4]{0} get-tuple-element(%s), index=2
  %a = f32[2]{0} get-tuple-element(%s), index=3
  %b = f32[2]{0} get-tuple-element(%s), index=4
  %two = s32[] constant(2)
  %parity = s32[] remainder(%i, %two)
  %zero = s32[] constant(0)
  %even = pred[] compare(%parity, %zero), direction=EQ
  %next_acc = f32[4]{0} conditional(%even, %acc, %acc), true_computation=%double, false_computation=%decrement
  %one = s32[] constant(1)
  %next_i = s32[] add(%i, %one)
  ROOT %next = (s32[], s32[], f32[4]{0}, f32[2]{0}, f32[2]{0}) tuple(%next_i, %n, %next_acc, %b, %a)
}

ENTRY %main (n: s32[], x: f32[4], a: f32[2], b: f32[2]) -> (s32[], f32[4], f32[2], f32[2]) {
  %n = s32[] parameter(0)
  %x = f32[4]{0} parameter(1)
  %a = f32[2]{0} parameter(2)
  %b = f32[2]{0} parameter(3)
  %zero = s32[] constant(0)
  %init = (s32[], s32[], f32[4]{0}, f32[2]{0}, f32[2]{0}) tuple(%zero, %n, %x, %a, %b)
  %loop = (s32[], s32[], f32[4]{0}, f32[2]{0}, f32[2]{0}) while(%init), condition=%cond, body=%body
  %count = s32[] get-tuple-element(%loop), index=0
  %acc = f32[4]{0} get-tuple-element(%loop), index=2
  %a2 = f32[2]{0} get-tuple-element(%loop), index=3
  %b2 = f32[2]{0} get-tuple-element(%loop), index=4
  ROOT %out = (s32[], f32[4]{0}, f32[2]{0}, f32[2]{0}) tuple(%count, %acc, %a2, %b2)
}
"""

# An indexed conditional whose branches take different operands and return tuples.
CASE_HLO = """
HloModule cases

%first (p: f32[3]) -> (f32[3], s32[]) {
  %p = f32[3]{0} parameter(0)
  %neg = f32[3]{0} negate(%p)
  %k = s32[] constant(10)
  ROOT %r = (f32[3]{0}, s32[]) tuple(%neg, %k)
}

%second (q: (f32[3], f32[3])) -> (f32[3], s32[]) {
  %q = (f32[3]{0}, f32[3]{0}) parameter(0)
  %u = f32[3]{0} get-tuple-element(%q), index=0
  %v = f32[3]{0} get-tuple-element(%q), index=1
  %m = f32[3]{0} multiply(%u, %v)
  %k = s32[] constant(20)
  ROOT %r = (f32[3]{0}, s32[]) tuple(%m, %k)
}

%last (z: f32[3]) -> (f32[3], s32[]) {
  %z = f32[3]{0} parameter(0)
  %k = s32[] constant(30)
  ROOT %r = (f32[3]{0}, s32[]) tuple(%z, %k)
}

ENTRY %main (i: s32[], x: f32[3], y: f32[3]) -> (f32[3], s32[]) {
  %i = s32[] parameter(0)
  %x = f32[3]{0} parameter(1)
  %y = f32[3]{0} parameter(2)
  %xy = (f32[3]{0}, f32[3]{0}) tuple(%x, %y)
  %c = (f32[3]{0}, s32[]) conditional(%i, %x, %xy, %y), branch_computations={%first, %second, %last}
  %value = f32[3]{0} get-tuple-element(%c), index=0
  %which = s32[] get-tuple-element(%c), index=1
  ROOT %out = (f32[3]{0}, s32[]) tuple(%value, %which)
}
"""

_rng = np.random.default_rng(5)


def _f32(*shape):
    return _rng.uniform(-2, 2, shape).astype(np.float32)


# -- IR: text, verifier, evaluator ------------------------------------------------------


@pytest.mark.parametrize("text", [LOOP_HLO, CASE_HLO], ids=["while", "conditional"])
def test_hand_written_text_parses_verifies_and_round_trips(text):
    module = parse_module(text)
    verify(module)
    printed = print_module(module)
    assert print_module(parse_module(printed)) == printed
    assert ("condition=cond, body=body" in printed) == (module.name == "loops")
    assert "true_computation=double, false_computation=decrement" in printed or \
        "branch_computations={first, second, last}" in printed


def test_while_evaluates_xla_semantics():
    module = parse_module(LOOP_HLO)
    x, a, b = _f32(4), _f32(2), _f32(2)
    for n in (0, 1, 4, 5):
        count, acc, a2, b2 = evaluate(module, np.int32(n), x, a, b)
        want = x.copy()
        for i in range(n):
            want = want + want if i % 2 == 0 else want - 1
        assert count == max(n, 0)
        np.testing.assert_array_equal(acc, want)
        np.testing.assert_array_equal(a2, a if n % 2 == 0 else b)
        np.testing.assert_array_equal(b2, b if n % 2 == 0 else a)


def test_indexed_conditional_takes_the_last_branch_out_of_range():
    module = parse_module(CASE_HLO)
    x, y = _f32(3), _f32(3)
    expected = {0: (-x, 10), 1: (x * y, 20), 2: (y, 30), 3: (y, 30), -1: (y, 30), 99: (y, 30)}
    for i, (value, which) in expected.items():
        got_value, got_which = evaluate(module, np.int32(i), x, y)
        np.testing.assert_array_equal(got_value, value)
        assert got_which == which


def _loop_pieces(state: Shape, body_result: Shape | None = None, cond_type="pred"):
    cb = Builder("c")
    p = cb.parameter(state, "cp")
    cb.compare(cb.get_tuple_element(p, 0), cb.constant(np.int32(3)), "LT")
    if cond_type != "pred":
        cb.convert(cb.computation.instructions[-1], cond_type)
    bb = Builder("b")
    p = bb.parameter(state, "bp")
    i = bb.get_tuple_element(p, 0)
    if body_result is None:
        bb.tuple([bb.binary("add", i, bb.constant(np.int32(1))), bb.get_tuple_element(p, 1)])
    else:
        bb.tuple([i, bb.broadcast(bb.constant(np.float32(0)), body_result.dims, [])])
    return cb.build(), bb.build()


def test_verifier_reports_bad_loops_and_branches():
    state = Shape.tuple([Shape.array("s32", []), Shape.array("f32", [2])])
    b = Builder("bad")
    x = b.parameter(Shape.array("f32", [2]), "x")
    init = b.tuple([b.constant(np.int32(0)), x])
    cond, body = _loop_pieces(state, body_result=Shape.array("f32", [3]))
    b.add("while", [init], called=[cond, body], shape=state)
    cond, body = _loop_pieces(state, cond_type="s32")
    b.add("while", [init], called=[cond, body], shape=state)
    b.add("while", [init], called=[cond], shape=state)
    neg = Builder("neg")
    neg.unary("negate", neg.parameter(Shape.array("f32", [2]), "np"))
    wide = Builder("wide")
    wide.unary("negate", wide.parameter(Shape.array("f32", [3]), "wp"))
    pred = b.compare(x, x, "EQ")  # not a scalar
    b.add("conditional", [pred, x, x], called=[neg.build(), neg.computation],
          shape=Shape.array("f32", [2]))
    flag = b.constant(True)
    b.add("conditional", [flag, x, x], called=[neg.computation, wide.build()],
          shape=Shape.array("f32", [2]))
    module = b.module(b.tuple([x]))
    problems = "\n".join(find_problems(module))
    assert "must return the loop state (s32[], f32[2]), returns (s32[], f32[3])" in problems
    assert "must return pred[], returns s32[]" in problems
    assert "calls 1 computations, expected 2" in problems
    assert "selector must be pred[] or s32[], got pred[2]" in problems
    assert "takes f32[3], but is passed f32[2]" in problems
    with pytest.raises(HloVerifierError):
        verify(module)


def test_parser_needs_both_loop_computations():
    text = LOOP_HLO.replace(", body=%body", "")
    with pytest.raises(HloParseError, match="expected condition=\\+body="):
        parse_module(text)
    text = CASE_HLO.replace("branch_computations={%first, %second, %last}",
                            "true_computation=%first")
    with pytest.raises(HloParseError, match="has computations true_computation"):
        parse_module(text)


def test_passes_keep_control_flow_valid():
    module = parse_module(LOOP_HLO)
    default_pipeline().run(module)  # verifies after every pass
    x, a, b = _f32(4), _f32(2), _f32(2)
    np.testing.assert_array_equal(evaluate(module, np.int32(3), x, a, b)[1],
                                  evaluate(parse_module(LOOP_HLO), np.int32(3), x, a, b)[1])


# -- CPU backend against the evaluator --------------------------------------------------


@pytest.fixture(scope="module")
def loop_program():
    return Compiled(parse_module(LOOP_HLO))


@pytest.mark.parametrize("n", [0, 1, 2, 7, -3])
def test_cpu_while_matches_evaluator(loop_program, n):
    _check(loop_program.module, [np.int32(n), _f32(4), _f32(2), _f32(2)],
           compiled=loop_program, **F32_TOL)


@pytest.fixture(scope="module")
def case_program():
    return Compiled(parse_module(CASE_HLO))


@pytest.mark.parametrize("i", [0, 1, 2, 3, -1, 1 << 30])
def test_cpu_indexed_conditional_matches_evaluator(case_program, i):
    _check(case_program.module, [np.int32(i), _f32(3), _f32(3)], compiled=case_program)


def _nested_module():
    """An outer loop of m steps whose body runs an inner loop of k steps (a matrix power
    accumulated into a sum), and a conditional whose branch contains a loop."""
    S, F = Shape.array, Shape.array("f32", [3, 3])
    inner_state = Shape.tuple([S("s32", []), S("s32", []), F, F])

    def counter_cond(state, limit_index, name):
        b = Builder(name)
        p = b.parameter(state, f"{name}.p")
        b.compare(b.get_tuple_element(p, 0), b.get_tuple_element(p, limit_index), "LT")
        return b.build()

    ib = Builder("inner_body")
    p = ib.parameter(inner_state, "ip")
    power, base = ib.get_tuple_element(p, 2), ib.get_tuple_element(p, 3)
    step = ib.dot(power, base, lhs_contracting=[1], rhs_contracting=[0])
    ib.tuple([ib.binary("add", ib.get_tuple_element(p, 0), ib.constant(np.int32(1))),
              ib.get_tuple_element(p, 1), step, base])
    inner_body = ib.build()

    outer_state = Shape.tuple([S("s32", []), S("s32", []), S("s32", []), F, F])
    ob = Builder("outer_body")
    p = ob.parameter(outer_state, "op")
    i, m, k = (ob.get_tuple_element(p, j) for j in range(3))
    total, base = ob.get_tuple_element(p, 3), ob.get_tuple_element(p, 4)
    inner = ob.while_loop(counter_cond(inner_state, 1, "inner_cond"), inner_body,
                          ob.tuple([ob.constant(np.int32(0)), k, base, base]))
    ob.tuple([ob.binary("add", i, ob.constant(np.int32(1))), m, k,
              ob.binary("add", total, ob.get_tuple_element(inner, 2)), base])
    outer_body = ob.build()

    b = Builder("nested")
    m, k = b.parameter(S("s32", []), "m"), b.parameter(S("s32", []), "k")
    x = b.parameter(F, "x")
    zero = b.broadcast(b.constant(np.float32(0)), [3, 3], [])
    outer = b.while_loop(counter_cond(outer_state, 1, "outer_cond"), outer_body,
                         b.tuple([b.constant(np.int32(0)), m, k, zero, x]))
    looped = b.get_tuple_element(outer, 3)
    # The conditional's true branch is itself a loop (reusing the inner loop computations).
    tb = Builder("loop_branch")
    p = tb.parameter(inner_state, "tp")
    tb.get_tuple_element(tb.while_loop(counter_cond(inner_state, 1, "branch_cond"),
                                       inner_body, p), 2)
    fb = Builder("plain_branch")
    p = fb.parameter(inner_state, "fp")
    fb.unary("negate", fb.get_tuple_element(p, 3))
    operand = b.tuple([b.constant(np.int32(0)), k, x, x])
    chosen = b.conditional(b.compare(m, k, "GT"), [operand, operand], [tb.build(), fb.build()])
    return b.module(b.tuple([looped, chosen, b.get_tuple_element(outer, 0)]))


@pytest.fixture(scope="module")
def nested_program():
    module = _nested_module()
    verify(module)
    return Compiled(module)


@pytest.mark.parametrize("m,k", [(0, 2), (3, 2), (2, 0), (4, 3)])
def test_cpu_nested_loops_and_loop_in_branch(nested_program, m, k):
    x = (_f32(3, 3) * 0.5).astype(np.float32)
    _check(nested_program.module, [np.int32(m), np.int32(k), x], compiled=nested_program,
           rtol=1e-5, atol=1e-6)


def test_nested_regions_follow_the_callers_temporaries(nested_program):
    a = nested_program.assignment
    outer = next(inst for inst in a.nested if inst.opcode == "while")
    buffers = a.nested[outer]
    own_end = max((s.offset + s.size for s in a.slices.values() if s.kind == "temp"),
                  default=0)
    assert buffers.temp_offset >= own_end and buffers.temp_offset % 64 == 0
    body = buffers.body.assignment
    assert any(i.opcode == "while" for i in body.nested)  # the inner loop, one level down
    assert a.temp_bytes >= buffers.temp_offset + body.temp_bytes
    # The loop counter k is passed through unchanged, so the body does not return it.
    assert buffers.body.result_elements == [0, 3]


# -- TensorFlow functions and control flow ----------------------------------------------

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

from aotc import compile as aotc_compile  # noqa: E402
from aotc.frontend.errors import FrontendError, UnsupportedOpsError  # noqa: E402
from aotc.frontend.lower import lower  # noqa: E402
from aotc.frontend.prune import prune  # noqa: E402
from tf_graphs import make_config, parse_graph_def  # noqa: E402


class FunctionCase:
    """A tf.function traced on fixed-shape inputs x0, x1, ...: its GraphDef (v2 control
    flow and the function library included), lowered by aotc, and TF's answers."""

    def __init__(self, fn, *examples):
        specs = [tf.TensorSpec(x.shape, x.dtype, name=f"x{i}") for i, x in enumerate(examples)]
        self.concrete = tf.function(fn).get_concrete_function(*specs)
        self.graph_def = self.concrete.graph.as_graph_def()
        self.feeds = [f"x{i}" for i in range(len(examples))]
        self.fetches = [(t.op.name, t.value_index) for t in self.concrete.outputs]
        self.config = make_config(self.feeds, self.fetches)

    def op_types(self) -> set[str]:
        return {n.op for n in self.graph_def.node} | {
            n.op for f in self.graph_def.library.function for n in f.node_def}

    def lower(self):
        module = lower(prune(parse_graph_def(self.graph_def.SerializeToString()), self.config))
        verify(module)
        return module

    def expected(self, inputs):
        outs = self.concrete(*[tf.constant(x) for x in inputs])
        return [np.asarray(o) for o in tf.nest.flatten(outs)]


def _assert_close(got, expected, tol):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert np.asarray(g).shape == e.shape
        if tol and e.dtype.kind == "f":
            np.testing.assert_allclose(g, e, rtol=tol, atol=tol)
        else:
            np.testing.assert_array_equal(g, e)


def _s32(v):
    return np.int32(v)


def cond_scalar(x, n):
    return tf.cond(n > 0, lambda: x * 2.0, lambda: x - 1.0)


def cond_tuple(x, y):
    return tf.cond(tf.reduce_sum(x) > 0.0,
                   lambda: (x + y, tf.reduce_max(x), tf.constant(1)),
                   lambda: (x - y, tf.reduce_min(y), tf.constant(2)))


def cond_nested(x, n):
    def positive():
        return tf.cond(n > 5, lambda: tf.tanh(x), lambda: x * tf.constant([1.0, 2.0, 3.0]))
    return tf.cond(n > 0, positive, lambda: tf.zeros_like(x) + tf.cast(n, tf.float32))


def cond_constant(x):
    return tf.cond(tf.constant(True), lambda: x + 1.0, lambda: x * 0.0)


def checked_cond(x, n):
    """A branch with an Assert is stateful: TF emits If rather than StatelessIf."""
    def big():
        with tf.control_dependencies([tf.debugging.assert_less(x, 100.0)]):
            return x * 3.0
    return tf.cond(n > 1, big, lambda: x + 1.0)


def checked_while(x, n):
    """Likewise While rather than StatelessWhile."""
    def body(i, v):
        with tf.control_dependencies([tf.debugging.assert_less(i, 1000)]):
            return i + 1, v * 0.5
    return tf.while_loop(lambda i, v: i < n, body, [0, x])[1]


def switch_case(x, i):
    return tf.switch_case(i, [lambda: x, lambda: -x, lambda: tf.square(x)])


def while_counter(x, n):
    _, z = tf.while_loop(lambda i, z: i < n, lambda i, z: (i + 1, z * 1.5), [0, x])
    return z


def while_recurrence(x, n):
    """Several loop variables: a counter, a tanh recurrence through constant weights, and
    a Fibonacci pair that swaps each step."""
    w = tf.constant(np.linspace(-0.5, 0.5, 9, dtype=np.float32).reshape(3, 3))

    def body(i, h, a, b):
        return i + 1, tf.tanh(tf.matmul(h, w) + x), b, a + b
    return tf.while_loop(lambda i, h, a, b: i < n, body,
                         [0, tf.zeros((2, 3)), tf.ones((3,)), x])[1:]


def while_nested(x, n):
    def outer(i, acc):
        _, inner = tf.while_loop(lambda j, s: j < i, lambda j, s: (j + 1, s + x), [0, acc])
        return i + 1, tf.cond(i % 2 == 0, lambda: inner, lambda: inner * 0.5)
    return tf.while_loop(lambda i, acc: i < n, outer, [0, tf.zeros_like(x)])


def while_tensor_array(x, n):
    """TensorArray writes in a loop (TensorListReserve/SetItem/Stack) and reads of an
    unstacked input (TensorListFromTensor/GetItem), limited by maximum_iterations."""
    rows = tf.TensorArray(tf.float32, size=4).unstack(x)
    out = tf.TensorArray(tf.float32, size=4)

    def body(i, out, h):
        h = tf.tanh(h * 0.5 + rows.read(i))
        return i + 1, out.write(i, h), h
    _, out, h = tf.while_loop(lambda i, out, h: i < n, body, [0, out, tf.zeros((3,))],
                              maximum_iterations=4)
    return out.stack(), h


@tf.function
def _inner_call(a, b):
    return a * b + 1.0, a - b


@tf.function
def _middle_call(a):
    p, q = _inner_call(a, a + 1.0)
    return p * q


def nested_calls(x, y):
    p, q = _inner_call(x, y)
    return _middle_call(p) + q


@tf.function
def _batch_norm(x, s):
    y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
        x, s, s * 0.5, mean=s * 0.1, variance=s * s + 1.0, is_training=False)
    return y, mean + variance


def call_multi_output(x, s):
    """The body reads FusedBatchNormV3:batch_mean:0 and :batch_variance:0, outputs 1 and 2
    of an op with several output args."""
    y, moments = _batch_norm(x, s)
    return y * 2.0, moments


F = np.float32
FUNCTION_CASES = {
    # name: (function, example inputs, the op types that must appear, input configurations)
    "cond_scalar": (cond_scalar, [_f32(3), _s32(0)], {"StatelessIf"},
                    [[_f32(3), _s32(n)] for n in (-2, 0, 4)]),
    "cond_tuple": (cond_tuple, [_f32(4), _f32(4)], {"StatelessIf"},
                   [[np.full(4, s, F), _f32(4)] for s in (-1.0, 0.0, 1.0)]),
    "cond_nested": (cond_nested, [_f32(3), _s32(0)], {"StatelessIf"},
                    [[_f32(3), _s32(n)] for n in (-1, 0, 3, 9)]),
    "checked_cond": (checked_cond, [_f32(3), _s32(0)], {"If", "Assert"},
                     [[_f32(3), _s32(n)] for n in (0, 2, 5)]),
    "checked_while": (checked_while, [_f32(3), _s32(0)], {"While", "Assert"},
                      [[_f32(3), _s32(n)] for n in (0, 1, 3)]),
    "cond_constant": (cond_constant, [_f32(2)], {"StatelessIf"}, [[_f32(2)] for _ in range(3)]),
    "switch_case": (switch_case, [_f32(3), _s32(0)], {"StatelessCase"},
                    [[_f32(3), _s32(i)] for i in (-1, 0, 1, 2, 7)]),
    "while_counter": (while_counter, [_f32(3), _s32(0)], {"StatelessWhile"},
                      [[_f32(3), _s32(n)] for n in (0, 1, 5)]),
    "while_recurrence": (while_recurrence, [_f32(3), _s32(0)], {"StatelessWhile", "MatMul"},
                         [[_f32(3), _s32(n)] for n in (0, 1, 6)]),
    "while_nested": (while_nested, [_f32(2), _s32(0)], {"StatelessWhile", "StatelessIf"},
                     [[_f32(2), _s32(n)] for n in (0, 1, 4)]),
    "while_tensor_array": (while_tensor_array, [_f32(4, 3), _s32(0)],
                           {"TensorListReserve", "TensorListSetItem", "TensorListStack",
                            "TensorListFromTensor", "TensorListGetItem"},
                           [[_f32(4, 3), _s32(n)] for n in (0, 2, 4, 9)]),
    "nested_calls": (nested_calls, [_f32(3), _f32(3)], {"PartitionedCall"},
                     [[_f32(3), _f32(3)] for _ in range(3)]),
    "call_multi_output": (call_multi_output, [_f32(2, 3, 3, 4), _f32(4)],
                          {"PartitionedCall", "FusedBatchNormV3"},
                          [[_f32(2, 3, 3, 4), np.abs(_f32(4)) + F(0.5)] for _ in range(3)]),
}


@pytest.fixture(scope="module", params=sorted(FUNCTION_CASES))
def function_case(request, tmp_path_factory):
    fn, examples, ops, configs = FUNCTION_CASES[request.param]
    case = FunctionCase(fn, *examples)
    assert ops <= case.op_types(), case.op_types()
    out = tmp_path_factory.mktemp(request.param)
    compiled = aotc_compile(parse_graph_def(case.graph_def.SerializeToString()), case.config, out,
                            name=request.param)
    return case, configs, compiled.load()


def test_tf_control_flow_on_the_evaluator(function_case):
    case, configs, _ = function_case
    module = case.lower()
    for inputs in configs:
        got = evaluate(module, *inputs)
        _assert_close(got, case.expected(inputs), 1e-6)


def test_tf_control_flow_compiled_for_the_cpu(function_case):
    case, configs, model = function_case
    for inputs in configs:
        got = model(*inputs)
        _assert_close(got if isinstance(got, tuple) else [got], case.expected(inputs), 1e-6)


def test_calls_are_inlined_and_loop_constants_stay_out_of_the_state():
    module = FunctionCase(nested_calls, _f32(3), _f32(3)).lower()
    assert not any(i.opcode == "call" for c in module.computations for i in c.instructions)
    module = FunctionCase(while_recurrence, _f32(3), _s32(0)).lower()
    (loop,) = [i for i in module.entry.instructions if i.opcode == "while"]
    # The weights are a constant inside the body, not a loop variable.
    assert all(s.rank < 2 or s.dims != (3, 3) for s in loop.shape.tuple_shapes)
    body = loop.called_computations[1]
    assert any(i.opcode == "constant" and i.shape.dims == (3, 3) for i in body.instructions)


def test_loop_variable_that_changes_shape_is_an_error():
    def growing(x):
        return tf.while_loop(lambda v: tf.size(v) < 16, lambda v: tf.concat([v, v], 0), [x],
                             shape_invariants=[tf.TensorShape([None])])
    case = FunctionCase(growing, _f32(2))
    # Index 2: TF2 puts the loop counter and the iteration limit first.
    with pytest.raises(FrontendError, match=r"loop variable 2 is f32\[2\] on entry but the "
                                            r"body returns f32\[4\]"):
        case.lower()


# Hand-written graphs for what TensorFlow would not produce.

def _library_graph(functions: dict, top_ops=()) -> bytes:
    """A graph feeding x into PartitionedCall `f0`; `functions` maps a function name to
    the op types of a chain of nodes in its body (a name in the chain is a call)."""
    from aotc.frontend.proto import aotc_graph_pb2, aotc_types_pb2

    graph = aotc_graph_pb2.GraphDef()
    x = graph.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = aotc_types_pb2.DT_FLOAT
    x.attr["shape"].shape.dim.add(size=2)
    previous = "x"
    for k, op in enumerate(top_ops):
        graph.node.add(name=f"top{k}", op=op, input=[previous])
        previous = f"top{k}"
    call = graph.node.add(name="call", op="PartitionedCall", input=[previous])
    call.attr["f"].func.name = "f0"
    call.attr["Tout"].list.type.append(aotc_types_pb2.DT_FLOAT)
    for name, chain in functions.items():
        fn = graph.library.function.add()
        fn.signature.name = name
        fn.signature.input_arg.add(name="a", type=aotc_types_pb2.DT_FLOAT)
        fn.signature.output_arg.add(name="out", type=aotc_types_pb2.DT_FLOAT)
        previous = "a"
        for k, op in enumerate(chain):
            node = fn.node_def.add(name=f"n{k}", input=[previous])
            if op in functions or op.startswith("missing"):
                node.op = "PartitionedCall"
                node.attr["f"].func.name = op
                node.attr["Tout"].list.type.append(aotc_types_pb2.DT_FLOAT)
            else:
                node.op = op
            previous = f"n{k}:output:0"
        fn.ret["out"] = previous
    return graph.SerializeToString()


def _lower_graph(graph: bytes):
    return lower(prune(parse_graph_def(graph), make_config(["x"], [("call", 0)])))


def test_recursion_is_an_error():
    graph = _library_graph({"f0": ["Identity", "f1"], "f1": ["f0"]})
    with pytest.raises(FrontendError, match=r"calls function 'f0' recursively "
                                            r"\('f0' -> 'f1' -> 'f0'\)"):
        _lower_graph(graph)


def test_missing_function_is_an_error():
    graph = _library_graph({"f0": ["missing_fn"]})
    with pytest.raises(FrontendError, match="names function 'missing_fn', which the graph's "
                                            "function library does not define"):
        _lower_graph(graph)


def test_unsupported_ops_in_functions_are_listed_with_the_top_level_ones():
    graph = _library_graph({"f0": ["Identity", "NotAnOpA", "f1"], "f1": ["NotAnOpB", "NotAnOpA"]},
                           top_ops=["NotAnOpA"])
    with pytest.raises(UnsupportedOpsError) as info:
        _lower_graph(graph)
    assert info.value.ops == {"NotAnOpA": ["top0", ("f0", "n1"), ("f1", "n1")],
                              "NotAnOpB": [("f1", "n0")]}
    assert str(info.value).splitlines()[1:] == [
        "  NotAnOpA: 'top0', 'n1' in function 'f0', 'n1' in function 'f1'",
        "  NotAnOpB: 'n0' in function 'f1'"]


def test_inlined_function_body_runs():
    graph = _library_graph({"f0": ["Neg", "f1", "Identity"], "f1": ["Exp"]})
    x = _f32(2)
    np.testing.assert_allclose(evaluate(_lower_graph(graph), x)[0], np.exp(-x), rtol=1e-6)


def test_a_computation_called_twice_is_emitted_once():
    text = CASE_HLO.replace("branch_computations={%first, %second, %last}",
                            "branch_computations={%last, %second, %last}")
    program = Compiled(parse_module(text), opt_level=0)  # O0 keeps the functions apart
    assert program.artifact.llvm_ir.count("define internal void") == 3  # impl + 2 branches
    for i in (0, 1, 2, 5):
        _check(program.module, [np.int32(i), _f32(3), _f32(3)], compiled=program)
