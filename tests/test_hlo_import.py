"""HLO text as users have it (JAX's and TensorFlow's printouts, committed under
tests/data/hlo/ by tools/gen_hlo_examples.py with the results JAX and TensorFlow
computed): parsed into a function, evaluated, and the importer's errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import aotc
from aotc.frontend.hlo_import import HloImportError, load_hlo_module, parse_hlo_text
from aotc.hlo.evaluation import evaluate
from aotc.hlo.verifier import verify
from conftest import run_aotc

DATA = Path(__file__).resolve().parent / "data" / "hlo"
CASES = sorted(p.stem for p in DATA.glob("*.hlo"))
# Tolerances: JAX/TF compute the same f32 ops with other summation orders and libm.
RTOL, ATOL = 1e-5, 1e-5


def reference(name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The arguments and the results JAX or TensorFlow computed for case `name`."""
    data = np.load(DATA / f"{name}.npz")
    count = lambda prefix: sum(1 for k in data.files if k.startswith(prefix))  # noqa: E731
    return ([data[f"arg{i}"] for i in range(count("arg"))],
            [data[f"result{i}"] for i in range(count("result"))])


def test_cases_present():
    assert {"jax_mlp", "jax_softmax", "jax_conv", "jax_while", "tf_dense",
            "tf_while"} <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_signature_and_evaluation(name):
    fn = load_hlo_module(DATA / f"{name}.hlo")
    verify(fn.module)
    args, want = reference(name)
    assert [(a.dtype, a.shape) for a in fn.args] == [(a.dtype, a.shape) for a in args]
    assert [(r.dtype, r.shape) for r in fn.results] == [(r.dtype, r.shape) for r in want]
    assert fn.module.entry.root.opcode == "tuple"
    got = evaluate(fn.module, *args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


def test_argument_names():
    fn = load_hlo_module(DATA / "jax_mlp.hlo")
    assert [a.name for a in fn.args] == ["x", "w1", "b1", "w2", "b2"]
    assert [a.label for a in fn.args] == ["x.1", "w1.1", "b1.1", "w2.1", "b2.1"]
    assert [r.label for r in fn.results] == ["root[0]", "root[1]"]


_DECORATED = """\
HloModule decorated, is_scheduled=true, entry_computation_layout={(f32[2,3]{0,1}, f32[3]{0})->f32[2,3]{1,0}}, allow_spmd_sharding_propagation_to_output={true}

%add.clone (x.1: f32[], y.1: f32[]) -> f32[] {
  %x.1 = f32[] parameter(0)
  %y.1 = f32[] parameter(1)
  ROOT %add.2 = f32[] add(f32[] %x.1, f32[] %y.1)
}

ENTRY %main.9 (p.1: f32[2,3], q: f32[3]) -> f32[2,3] {
  %p.1 = f32[2,3]{0,1} parameter(0), parameter_replication={false}, sharding={replicated}, metadata={op_name="p"}
  %q = f32[3]{0} parameter(1), sharding={maximal device=0}, frontend_attributes={_xla_compute_type="host"}
  %b = f32[2,3]{1,0} broadcast(f32[3]{0} %q), dimensions={1}, backend_config={"flag":true}
  %m = f32[2,3]{1,0} multiply(f32[2,3]{0,1} %p.1, f32[2,3]{1,0} %b), metadata={op_type="Mul" op_name="m" source_file="x.py" source_line=3}
  %z = f32[] constant(0)
  %s = f32[2]{0} reduce(f32[2,3]{1,0} %m, f32[] %z), dimensions={1}, to_apply=%add.clone
  ROOT %r = f32[2,3]{1,0} broadcast(f32[2]{0} %s), dimensions={0}, sharding={maximal device=0}
}
"""


def test_attributes_xla_prints_are_accepted():
    fn = parse_hlo_text(_DECORATED)
    verify(fn.module)
    assert [a.name for a in fn.args] == ["p", "q"]
    assert len(fn.results) == 1 and fn.results[0].shape == (2, 3)  # a non-tuple root
    for inst in fn.module.entry.instructions:
        assert not {"parameter_replication", "sharding", "frontend_attributes",
                    "backend_config"} & set(inst.attrs)
    p = np.arange(6, dtype=np.float32).reshape(2, 3)
    q = np.array([1, 2, 3], np.float32)
    (got,) = evaluate(fn.module, p, q)
    np.testing.assert_array_equal(got, np.repeat((p * q).sum(1, keepdims=True), 3, 1))


_JAX_DECORATED = """\
HloModule jit_f, is_scheduled=true, input_output_alias={ {0}: (0, {}, may-alias) }, entry_computation_layout={(f32[2]{0}, s32[])->(f32[2]{0})}, allow_spmd_sharding_propagation_to_parameters={false,false}, num_partitions=1, frontend_attributes={fingerprint_before_lhs="abc"}

ENTRY %main.5 (Arg_0.1: f32[2], Arg_1.2: s32[]) -> (f32[2]) {
  %Arg_0.1 = f32[2]{0} parameter(0), sharding={replicated}, metadata={op_name="x"}
  %Arg_1.2 = s32[] parameter(1), sharding={maximal device=0}
  %convert.3 = f32[] convert(s32[] %Arg_1.2), metadata={op_name="jit(f)/convert_element_type" source_file="/t.py" source_line=4 scheduling_name="convert.3"}
  %broadcast.4 = f32[2]{0} broadcast(f32[] %convert.3), dimensions={}
  %multiply = f32[2]{0} multiply(f32[2]{0} %Arg_0.1, f32[2]{0} %broadcast.4), statistics={visualizing_index=1,stat-1=0.5}
  ROOT %tuple = (f32[2]{0}) tuple(f32[2]{0} %multiply), sharding={{replicated}}
}
"""


def test_module_attributes_xla_prints_are_accepted():
    fn = parse_hlo_text(_JAX_DECORATED)
    verify(fn.module)
    assert [a.name for a in fn.args] == ["Arg_0", "Arg_1"]
    (got,) = evaluate(fn.module, np.array([1.5, -2], np.float32), np.int32(3))
    np.testing.assert_array_equal(got, [4.5, -6])


def test_unknown_opcodes_listed_at_once():
    text = """\
HloModule m
ENTRY main {
  p = f32[4]{0} parameter(0)
  a = f32[4]{0} custom-call(p), custom_call_target="foo"
  b = (f32[4]{0}, u32[]) rng-bit-generator(p), algorithm=rng_default
  c = f32[4]{0} custom-call(a), custom_call_target="bar"
  ROOT t = (f32[4]{0}) tuple(c)
}
"""
    with pytest.raises(HloImportError) as info:
        parse_hlo_text(text, source="m.hlo")
    assert str(info.value) == (
        "'m.hlo' uses 2 opcodes that aotc cannot compile:\n"
        "  custom-call: a, c\n"
        "  rng-bit-generator: b")


@pytest.mark.parametrize("text, message", [
    ("module @jit_f attributes {mhlo.num_partitions = 1 : i32} {\n"
     "  func.func public @main(%arg0: tensor<2xf32>) -> tensor<2xf32> {\n"
     "    return %arg0 : tensor<2xf32>\n  }\n}\n",
     r"is MLIR \(StableHLO\) text, not HLO text; .*as_text\(dialect=\"hlo\"\)"),
    ("HloModule m\nENTRY e {\n  ROOT c = f32[40]{0} constant({...})\n}\n",
     r"line 3: constant c has its value elided as \{...\}"),
    ("HloModule m\nENTRY e {\n  p = f32[4]{0} parameter(0), sharding={devices=[2]0,1}\n"
     "  ROOT n = f32[4]{0} negate(p)\n}\n", "p is sharded over several devices"),
    ("HloModule m\nENTRY e {\n  p = (f32[2], f32[]) parameter(0)\n"
     "  ROOT g = f32[] get-tuple-element(p), index=1\n}\n",
     r"entry parameter 0 \(p\) is a tuple"),
    ("HloModule m\nENTRY e {\n  p = f32[2]{0} parameter(0)\n  t = (f32[2]) tuple(p)\n"
     "  ROOT r = ((f32[2]), f32[2]) tuple(t, p)\n}\n", r"result 0 of the entry computation \(t\) is a tuple"),
    ("HloModule m\nENTRY e {\n  p = f32[2]{0} parameter(0)\n  ROOT r = f32[3]{0} negate(p)\n}\n",
     "is not HLO text aotc can read: line 4"),
    ("HloModule m\nENTRY e {\n  p = f32[2,3]{1,0} parameter(0)\n"
     "  ROOT b = f32[3,2]{0,1} bitcast(p)\n}\n", "bitcast b depends on its layouts"),
])
def test_errors(text, message):
    with pytest.raises(HloImportError, match=message):
        parse_hlo_text(text, source="m.hlo")


def test_missing_file(tmp_path):
    with pytest.raises(HloImportError, match="HLO file '.*nope.hlo' does not exist"):
        load_hlo_module(tmp_path / "nope.hlo")


# ---------------------------------------------------------------------------------------
# Compiled with `aotc compile MODULE.hlo`


@pytest.fixture(scope="session")
def hlo_artifacts(tmp_path_factory):
    """Every example compiled once with the Python API (the mlp also with the CLI)."""
    root = tmp_path_factory.mktemp("hlo_artifacts")
    return {name: aotc.compile(DATA / f"{name}.hlo", None, out_dir=root / name,
                               cpp_class=f"hlo::{name.title().replace('_', '')}")
            for name in CASES}


@pytest.mark.parametrize("name", CASES)
def test_compiled_matches_reference(hlo_artifacts, name):
    artifact = hlo_artifacts[name]
    args, want = reference(name)
    got = artifact.load()(*args)
    got = got if isinstance(got, (list, tuple)) else [got]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


def test_compiled_signature(hlo_artifacts):
    program = hlo_artifacts["jax_mlp"].program
    assert [(a.name, a.node, a.shape) for a in program.args] == [
        ("x", "x.1", (4, 8)), ("w1", "w1.1", (8, 16)), ("b1", "b1.1", (16,)),
        ("w2", "w2.1", (16, 3)), ("b2", "b2.1", (3,))]
    assert [(r.name, r.node, r.shape) for r in program.results] == [
        ("", "root[0]", (4, 3)), ("", "root[1]", ())]


def test_compiled_layouts_do_not_change_the_arguments(tmp_path):
    # p is printed column-major ({0,1}); the compiled function still takes row-major data.
    (tmp_path / "decorated.hlo").write_text(_DECORATED)
    artifact = aotc.compile(tmp_path / "decorated.hlo", None, out_dir=tmp_path / "out",
                            cpp_class="ns::Decorated")
    p = np.arange(6, dtype=np.float32).reshape(2, 3)
    q = np.array([1, 2, 3], np.float32)
    np.testing.assert_array_equal(artifact.load()(p, q),
                                  np.repeat((p * q).sum(1, keepdims=True), 3, 1))


def test_compiled_parameter_and_repeated_results(tmp_path):
    (tmp_path / "edge.hlo").write_text(
        "HloModule m\nENTRY e {\n  p = f32[3]{0} parameter(0)\n  n = f32[3]{0} negate(p)\n"
        "  ROOT t = (f32[3]{0}, f32[3]{0}, f32[3]{0}) tuple(p, n, n)\n}\n")
    x = np.array([1, -2, 3], np.float32)
    got = aotc.compile(tmp_path / "edge.hlo", out_dir=tmp_path / "out").load()(x)
    for value, want in zip(got, [x, -x, -x]):
        np.testing.assert_array_equal(value, want)


def test_cli(tmp_path):
    proc = run_aotc("compile", DATA / "jax_softmax.hlo", "--cpp_class", "ns::Softmax",
                    "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    args, (want,) = reference("jax_softmax")
    np.testing.assert_allclose(aotc.load(tmp_path / "out")(*args), want, rtol=RTOL, atol=ATOL)


def test_cli_reads_hlo_text_by_its_header(tmp_path):
    # JAX's and TF's dumps are often saved as .txt: the `HloModule` header tells.
    module = tmp_path / "softmax.txt"
    module.write_text("\n" + (DATA / "jax_softmax.hlo").read_text())
    proc = run_aotc("compile", module, "--cpp_class", "ns::Softmax", "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    args, (want,) = reference("jax_softmax")
    np.testing.assert_allclose(aotc.load(tmp_path / "out")(*args), want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("extra, message", [
    (["--signature_def_key", "k"], "--signature_def_key applies to SavedModel directories only"),
    ([DATA / "jax_mlp.npz"], "is HLO text, which takes no Config"),
])
def test_cli_errors(tmp_path, extra, message):
    proc = run_aotc("compile", DATA / "jax_mlp.hlo", *extra, "-o", tmp_path / "out")
    assert proc.returncode == 1
    assert proc.stderr.startswith("aotc: error: ") and message in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_cli_unknown_opcodes(tmp_path):
    module = tmp_path / "m.hlo"
    module.write_text("HloModule m\nENTRY e {\n  p = f32[4]{0} parameter(0)\n"
                      "  ROOT a = f32[4]{0} custom-call(p), custom_call_target=\"f\"\n}\n")
    proc = run_aotc("compile", module, "-o", tmp_path / "out")
    assert proc.returncode == 1
    assert proc.stderr == (f"aotc: error: '{module}' uses 1 opcode that aotc cannot "
                           "compile:\n  custom-call: a\n")
    assert not (tmp_path / "out").exists()
