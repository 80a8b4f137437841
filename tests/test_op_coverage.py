"""Op coverage against TensorFlow on the HLO evaluator: every op of the coverage list in
three or more configurations (tests/op_coverage_cases.py), Cast between every pair of
supported dtypes, Einsum as Keras emits it, and the compile-time errors of the new rules.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import tensorflow as tf  # noqa: E402  (a test dependency: missing, the suite must fail, not skip)

from aotc.frontend.errors import FrontendError  # noqa: E402
from aotc.frontend.lower import lower  # noqa: E402
from aotc.frontend.ops import supported_ops  # noqa: E402
from aotc.frontend.ops.einsum import EquationError, parse_equation  # noqa: E402
from aotc.frontend.prune import prune  # noqa: E402
from op_coverage_cases import ALL_CASES, CAST_DTYPES, COVERAGE_OPS  # noqa: E402
from tf2xla_op_cases import ALL_CASES as TF2XLA_CASES  # noqa: E402
from tf2xla_op_cases import COVERAGE_OPS as TF2XLA_OPS  # noqa: E402
from tf_graphs import check_case  # noqa: E402
from tf_graphs import make_config, parse_graph_def, rand, run_tf  # noqa: E402

raw = tf.raw_ops


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda k: k.id)
def test_op_matches_tensorflow(case):
    check_case(case)


def test_every_coverage_op_has_three_cases_and_a_rule():
    counts = Counter(k.op for k in ALL_CASES)
    assert {op: counts[op] for op in COVERAGE_OPS if counts[op] < 3} == {}
    assert set(COVERAGE_OPS) <= set(supported_ops())


def test_cast_covers_every_dtype_pair():
    pairs = {k.id for k in ALL_CASES if k.op == "Cast"}
    names = [np.dtype(t).name for t in CAST_DTYPES]
    assert pairs == {f"Cast-{s}-to-{d}" for s in names for d in names if s != d}


# -- Einsum equations, without TensorFlow -------------------------------------------------------


@pytest.mark.parametrize("equation, ranks, inputs, output", [
    ("abc,cde->abde", [3, 3], [list("abc"), list("cde")], list("abde")),
    ("...ij,jk->...ik", [4, 2], [["...0", "...1", "i", "j"], list("jk")],
     ["...0", "...1", "i", "k"]),
    # A narrower ellipsis takes the trailing ellipsis labels (NumPy broadcasting).
    ("...i,...i->...", [3, 2], [["...0", "...1", "i"], ["...1", "i"]], ["...0", "...1"]),
    ("ii->i", [2], [list("ii")], list("i")),
    ("ij->", [2], [list("ij")], []),
])
def test_parse_equation(equation, ranks, inputs, output):
    assert parse_equation(equation, ranks) == (inputs, output)


@pytest.mark.parametrize("equation, ranks, message", [
    ("ij,jk", [2, 2], "exactly one '->'"),
    ("ij,jk->ik", [2], "2 input terms for 1 operands"),
    ("ij->i", [3], "names 2 dims but operand 0 has rank 3"),
    ("ab, ab->ab", [2, 2], "characters other than letters"),
    ("...ij,...jk->ik", [3, 3], "no '...'"),
    ("i...j...->ij", [4], "more than one '...'"),
    ("ij->ii", [2], "appears more than once"),
    ("ij->ik", [2], "appears in no input"),
])
def test_parse_equation_errors(equation, ranks, message):
    with pytest.raises(EquationError, match=message.replace("(", r"\(")):
        parse_equation(equation, ranks)


# -- compile-time errors name the node ----------------------------------------------------------


def _lower_with_feeds(graph, feeds: dict[str, tuple[int, ...]], fetch: str):
    """Prune and lower `graph` with the Config giving each feed its shape."""
    config = make_config(list(feeds), [(fetch, 0)])
    for entry, dims in zip(config.feed, feeds.values()):
        for d in dims:
            entry.shape.dim.add().size = d
    return lower(prune(parse_graph_def(graph.as_graph_def().SerializeToString()), config))


def _unknown_shape_graph(build, names):
    """A graph whose placeholders have unknown shapes, so that TensorFlow's graph-time
    shape checks let through what only the Config's feed shapes contradict."""
    graph = tf.Graph()
    with graph.as_default():
        build(*[tf.compat.v1.placeholder(tf.float32, None, name=n) for n in names])
    return graph


def test_einsum_three_operands_is_an_error():
    # TensorFlow rejects the op at graph construction (tf.einsum splits longer products
    # into pairs), so the node is edited into a two-operand graph.
    case = run_tf(lambda x, y: raw.Einsum(inputs=[x, y], equation="ij,jk->ik", name="e3"),
                  [rand((2, 2)), rand((2, 2))])
    graph = parse_graph_def(case.graph_def)
    node = next(n for n in graph.node if n.name == "e3")
    node.input.append("in1")
    node.attr["N"].i = 3
    node.attr["equation"].s = b"ij,jk,kl->il"
    with pytest.raises(FrontendError, match=r"node 'e3' \(Einsum\): only one or two operands"):
        lower(prune(graph, make_config(case.feeds, case.fetches)))


def test_einsum_label_size_mismatch_names_the_node():
    graph = _unknown_shape_graph(
        lambda a, b: raw.Einsum(inputs=[a, b], equation="ij,jk->ik", name="mix"), ["a", "b"])
    with pytest.raises(FrontendError,
                       match=r"node 'mix' \(Einsum\): label 'j' has sizes \[3, 4\]"):
        _lower_with_feeds(graph, {"a": (2, 3), "b": (4, 5)}, "mix")


def test_ensure_shape_mismatch_fails_at_compile_time():
    graph = _unknown_shape_graph(lambda x: tf.ensure_shape(x, [None, 3], name="check"), ["x"])
    with pytest.raises(FrontendError, match=r"node 'check' \(EnsureShape\): input has shape "
                                            r"\[2, 4\].*\[\?, 3\]"):
        _lower_with_feeds(graph, {"x": (2, 4)}, "check")


def test_clip_by_value_rejects_bounds_of_another_shape():
    graph = _unknown_shape_graph(
        lambda x, lo: raw.ClipByValue(t=x, clip_value_min=lo, clip_value_max=tf.constant(1.0),
                                      name="clip"), ["x", "lo"])
    with pytest.raises(FrontendError, match=r"node 'clip' \(ClipByValue\): bounds must be"):
        _lower_with_feeds(graph, {"x": (2, 3), "lo": (3,)}, "clip")


# -- the ops of the tf2xla inference set (tests/tf2xla_op_cases.py) ------------------------------


@pytest.mark.parametrize("case", TF2XLA_CASES, ids=lambda k: k.id)
def test_tf2xla_op_matches_tensorflow(case):
    check_case(case)


def test_every_tf2xla_op_has_three_cases_and_a_rule():
    counts = Counter(k.op for k in TF2XLA_CASES)
    assert {op: counts[op] for op in TF2XLA_OPS if counts[op] < 3} == {}
    assert set(TF2XLA_OPS) <= set(supported_ops())


def test_bitcast_to_a_wider_type_needs_the_width_ratio_as_last_dimension():
    graph = _unknown_shape_graph(lambda x: tf.bitcast(x, tf.float64, name="wide"), ["x"])
    with pytest.raises(FrontendError, match=r"node 'wide' \(Bitcast\): cannot bitcast "
                                            r"f32\[3\] to f64: the last dimension must be 2"):
        _lower_with_feeds(graph, {"x": (3,)}, "wide")


def test_non_max_suppression_needs_a_constant_max_output_size():
    graph = tf.Graph()
    with graph.as_default():
        boxes = tf.compat.v1.placeholder(tf.float32, [5, 4], name="boxes")
        scores = tf.compat.v1.placeholder(tf.float32, [5], name="scores")
        size = tf.compat.v1.placeholder(tf.int32, [], name="size")
        raw.NonMaxSuppressionV3(boxes=boxes, scores=scores, max_output_size=size,
                                iou_threshold=0.5, score_threshold=0.0, name="nms")
    with pytest.raises(FrontendError, match=r"node 'nms' \(NonMaxSuppressionV3\): "
                                            r"max_output_size input must be a constant"):
        _lower_with_feeds(graph, {"boxes": (5, 4), "scores": (5,), "size": ()}, "nms")


def test_rfft_input_shorter_than_fft_length_names_the_node():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, None, name="x")
        raw.RFFT(input=x, fft_length=tf.constant([8]), name="spectrum")
    with pytest.raises(FrontendError, match=r"node 'spectrum' \(RFFT\): input dimension 1 must "
                                            r"have length of at least 8 for fft_length, got 5"):
        _lower_with_feeds(graph, {"x": (2, 5)}, "spectrum")


def test_complex_op_without_an_expansion_names_the_node():
    """Prod of complex values lowers (a reduce by multiply) but has no expansion."""
    from aotc.passes.complex_expansion import ComplexExpansionError
    from aotc.passes.pipeline import default_pipeline

    graph = tf.Graph()
    with graph.as_default():
        z = tf.compat.v1.placeholder(tf.complex64, [3], name="z")
        tf.reduce_prod(z, name="product")
    module = _lower_with_feeds(graph, {"z": (3,)}, "product")
    with pytest.raises(ComplexExpansionError, match=r"node 'product'.*only sums reduce complex"):
        default_pipeline().run(module)
