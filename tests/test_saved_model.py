"""SavedModels without TensorFlow: the tensor bundle reader, the signature -> Config
importer (feeds, fetches, frozen and fed variables, TF2's object graph, TF1 graphs) and
its errors, checked against TensorFlow's own reading of the same files."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

import aotc
from aotc.frontend import tensor_bundle
from aotc.frontend.errors import FrontendError
from aotc.frontend.lower import lower
from aotc.frontend.prune import prune
from aotc.frontend.saved_model import load_saved_model
from aotc.frontend.tensor_bundle import BundleError, TensorBundle, crc32c
from aotc.frontend.tensor_slices import Region, parse_slice_spec
from aotc.hlo.evaluation import evaluate
from aotc.hlo.verifier import verify
from conftest import ROOT, build_cpp, run_aotc, run_program
from saved_models import make_saved_models

RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture(scope="session")
def saved(tmp_path_factory):
    return make_saved_models(tmp_path_factory.mktemp("saved_models"))


def _run(imported, feeds: dict[str, np.ndarray], variables=()) -> dict[str, np.ndarray]:
    """Lower an imported signature (saved values compiled in), run it on the evaluator;
    results by fetch name, then the updated variables as var0, var1, ..."""
    subgraph = prune(imported.graph, imported.config)
    module = lower(subgraph, frozen=imported.frozen)
    verify(module)
    args = [feeds[f.name] for f in subgraph.feeds] + list(variables)
    results = evaluate(module, *args)
    return {f.name: r for f, r in zip(subgraph.fetches, results)} | {
        f"var{i}": r for i, r in enumerate(results[len(subgraph.fetches):])}


# ---------------------------------------------------------------------------------------
# The tensor bundle


def test_crc32c_known_values():
    # RFC 3720's check value, and TensorFlow's crc32c_test vectors.
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(bytes([0xFF] * 32)) == 0x62A8AB43
    assert crc32c(b"6789", crc32c(b"12345")) == crc32c(b"123456789")


@pytest.mark.parametrize("size", [65536, 200_003])
def test_crc32c_of_large_data_matches_small_steps(size):
    # Large inputs take the lane-parallel path; 1000-byte steps the byte loop.
    data = np.random.default_rng(size).integers(0, 256, size, np.uint8).tobytes()
    crc = 0
    for start in range(0, size, 1000):
        crc = crc32c(data[start:start + 1000], crc)
    assert crc32c(data) == crc
    assert crc32c(data[size // 3:], crc32c(data[:size // 3])) == crc


@pytest.mark.parametrize("name", ["keras", "keras_export", "keras_lstm", "module", "tf1",
                                  "tf1_partitioned"])
def test_bundle_matches_tensorflow(saved, name):
    import tensorflow as tf

    prefix = str(saved[name].path / "variables" / "variables")
    reader = tf.train.load_checkpoint(prefix)
    bundle = TensorBundle(prefix)
    expected = reader.get_variable_to_shape_map()
    assert bundle.keys() == sorted(expected)
    for key in bundle.keys():
        value = bundle.read(key)
        if isinstance(value, bytes):
            assert value == reader.get_tensor(key)
        else:
            np.testing.assert_array_equal(value, reader.get_tensor(key))


def test_bundle_reads_regions_across_saved_slices(saved):
    # embedding [150, 3] is saved as rows 0-49, 50-99, 100-149; read 40-109 (three slices).
    import tensorflow as tf

    prefix = str(saved["tf1_partitioned"].path / "variables" / "variables")
    want = tf.train.load_checkpoint(prefix).get_tensor("embedding")
    bundle = TensorBundle(prefix)
    np.testing.assert_array_equal(bundle.read("embedding", Region((40, 1), (70, 2))),
                                  want[40:110, 1:3])
    shape, region = parse_slice_spec("150 3 100,50:-")
    assert shape == (150, 3) and region == Region((100, 0), (50, 3))
    with pytest.raises(BundleError, match=r"does not fit"):
        bundle.read("embedding", Region((140, 0), (20, 3)))


def test_bundle_names_a_missing_slice(saved, tmp_path):
    target = tmp_path / "variables"
    shutil.copytree(saved["tf1_partitioned"].path / "variables", target)
    bundle = TensorBundle(target / "variables")
    bundle._slices.pop(max(bundle._slices))  # as if the index had lost one slice's entry
    with pytest.raises(BundleError, match="the data of its slice .* is missing"):
        for key in bundle.keys():
            bundle.read(key)


def _copy_bundle(saved, tmp_path):
    target = tmp_path / "variables"
    shutil.copytree(saved["module"].path / "variables", target)
    return target / "variables"


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def test_bundle_rejects_corrupt_data(saved, tmp_path):
    prefix = _copy_bundle(saved, tmp_path)
    shard = prefix.parent / "variables.data-00000-of-00001"
    _flip(shard, shard.stat().st_size - 1)
    bundle = TensorBundle(prefix)
    with pytest.raises(BundleError, match="checksum of its data does not match"):
        for key in bundle.keys():
            bundle.read(key)


def test_bundle_rejects_corrupt_index(saved, tmp_path):
    prefix = _copy_bundle(saved, tmp_path)
    _flip(prefix.parent / "variables.index", 3)
    with pytest.raises(BundleError, match="checksum of the block at byte 0"):
        TensorBundle(prefix)


def test_bundle_rejects_compressed_blocks(saved, tmp_path):
    # Mark the first data block Snappy-compressed, with a checksum that matches.
    prefix = _copy_bundle(saved, tmp_path)
    index = prefix.parent / "variables.index"
    data = bytearray(index.read_bytes())
    footer, pos, handle = bytes(data[-48:]), 0, []
    for _ in range(4):  # the metaindex block's offset and size, then the index block's
        value, pos = tensor_bundle._varint(footer, pos, "")
        handle.append(value)
    index_offset, index_size = handle[2:]
    entries = tensor_bundle._block_entries(
        tensor_bundle._block(bytes(data), (index_offset, index_size), ""), "")
    offset, pos = tensor_bundle._varint(entries[0][1], 0, "")
    size, _ = tensor_bundle._varint(entries[0][1], pos, "")
    assert offset == 0
    data[size] = 1
    masked = tensor_bundle.crc32c(bytes([1]), tensor_bundle.crc32c(bytes(data[:size])))
    masked = (((masked >> 15) | (masked << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    struct.pack_into("<I", data, size + 1, masked)
    index.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="Snappy-compressed block at byte 0"):
        TensorBundle(prefix)


def test_bundle_missing_files(tmp_path):
    with pytest.raises(BundleError, match="cannot read checkpoint index"):
        TensorBundle(tmp_path / "nothing")
    (tmp_path / "junk.index").write_bytes(b"not a table")
    with pytest.raises(BundleError, match="not a checkpoint index"):
        TensorBundle(tmp_path / "junk")


# ---------------------------------------------------------------------------------------
# Signatures as Configs


def test_signature_names_and_order(saved):
    imported = load_saved_model(saved["module"].path, "counter", variables_to_feed="count")
    config = imported.config
    assert [f.name for f in config.feed] == ["a", "b"]
    assert [f.name for f in config.fetch] == ["count", "sum"]
    assert [(v.node_name, v.name, v.readonly) for v in config.variable] == [
        ("count", "count", False), ("b", "b", True)]
    assert list(imported.frozen) == ["b"]


def test_saved_model_cli_names(saved):
    imported = load_saved_model(saved["tf1"].path, variables_to_feed="all",
                                naming="saved_model_cli")
    config = imported.config
    assert [f.name for f in config.feed] == ["feed_x"]
    assert [f.name for f in config.fetch] == ["fetch_y"]
    assert [(v.name, v.readonly) for v in config.variable] == [
        ("param_dense_w", True), ("param_scale", True)]
    assert imported.frozen == {}


@pytest.mark.parametrize("name, signature", [
    ("keras", "serving_default"), ("keras_export", "serving_default"), ("keras_lstm", "serving_default"),
    ("module", "affine"),
    ("tf1", "serving_default"), ("tf1_partitioned", "serving_default")])
def test_frozen_signature_matches_tensorflow(saved, name, signature):
    case = saved[name]
    imported = load_saved_model(case.path, signature)
    assert imported.config.variable and all(v.readonly for v in imported.config.variable)
    got = _run(imported, case.inputs[signature])
    for key, want in case.outputs[signature].items():
        np.testing.assert_allclose(got[key], want, rtol=RTOL, atol=ATOL)


def test_fed_variable_is_assigned(saved):
    # count starts at its saved 1.5 in TensorFlow; fed here, and returned updated.
    case = saved["module"]
    imported = load_saved_model(case.path, "counter", variables_to_feed=["count"])
    got = _run(imported, case.inputs["counter"], [np.float32(1.5)])
    for key, want in case.outputs["counter"].items():
        np.testing.assert_allclose(got[key], want, rtol=RTOL, atol=ATOL)
    assert got["var0"] == np.float32(2.5)


def test_variables_through_loop_and_cond(saved):
    # count (fed, 1.5 as TensorFlow had it) is assigned in a while body; b (frozen) is
    # read in a cond inside it.
    case = saved["module"]
    imported = load_saved_model(case.path, "loop", variables_to_feed="count")
    assert [(v.node_name, v.readonly) for v in imported.config.variable] == [
        ("count", False), ("b", True)]
    got = _run(imported, case.inputs["loop"], [np.float32(1.5)])
    for key, want in case.outputs["loop"].items():
        np.testing.assert_allclose(got[key], want, rtol=RTOL, atol=ATOL)
    assert got["var0"] == np.float32(3.0)


def test_fed_tf1_variables(saved):
    case = saved["tf1"]
    imported = load_saved_model(case.path, variables_to_feed="all")
    w, scale = np.ones((3, 4), np.float32), np.float32(2.0)
    x = case.inputs["serving_default"]["x"]
    got = _run(imported, {"x": x}, [w, scale])  # Config order: sorted node names
    np.testing.assert_allclose(got["y"], np.tanh(x @ w) * scale, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("call, message", [
    (lambda p: load_saved_model(p / "missing"), "SavedModel directory '.*missing' does not exist"),
    (lambda p: load_saved_model(p / "variables"), "is not a SavedModel: it has no saved_model.pb"),
    (lambda p: load_saved_model(p, "nope"),
     "has no signature 'nope'; its signatures: affine, counter, loop"),
    (lambda p: load_saved_model(p, "affine", tag_set="serve,gpu"),
     "has no MetaGraph tagged 'gpu,serve'; its tag sets: serve"),
    (lambda p: load_saved_model(p, "affine", variables_to_feed="w,nope"),
     "--variables_to_feed names 'nope', which signature 'affine' does not use; its "
     "variables: b, w"),
    (lambda p: load_saved_model(p, "counter"),
     r"signature 'counter' assigns to variable 'count'.*--variables_to_feed count"),
])
def test_errors(saved, call, message):
    with pytest.raises(FrontendError, match=message):
        call(saved["module"].path)


def test_error_unknown_batch_dimension(tmp_path):
    import tensorflow as tf

    class Free(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def f(self, x):
            return {"y": x * 2.0}

    module = Free()
    tf.saved_model.save(module, str(tmp_path / "m"), signatures={"serving_default": module.f})
    with pytest.raises(FrontendError, match=r"input 'x' of signature 'serving_default' has "
                                            r"shape \[\?, 2\], which is not fully defined"):
        load_saved_model(tmp_path / "m")


def test_error_missing_variables(saved, tmp_path):
    shutil.copytree(saved["module"].path, tmp_path / "m")
    shutil.rmtree(tmp_path / "m" / "variables")
    with pytest.raises(FrontendError, match="variables/variables.index' does not exist"):
        load_saved_model(tmp_path / "m", "affine")


# ---------------------------------------------------------------------------------------
# Compiled: `aotc compile DIR`, `aotc aot_compile_cpu`, and with no TensorFlow at all


@pytest.fixture(scope="session")
def compiled(saved, tmp_path_factory):
    """The frozen signatures compiled once with the Python API: name -> artifact."""
    root = tmp_path_factory.mktemp("saved_model_artifacts")
    builds = {"keras": ("serving_default", "models::Keras"),
              "keras_export": ("serving_default", "models::KerasExport"),
              "keras_lstm": ("serving_default", "models::KerasLstm"),
              "module": ("affine", "models::Affine"),
              "tf1": ("serving_default", "models::Tf1"),
              "tf1_partitioned": ("serving_default", "models::Tf1Partitioned")}
    return {name: aotc.compile(saved[name].path, out_dir=root / name, cpp_class=cls,
                               signature_def_key=signature)
            for name, (signature, cls) in builds.items()}


@pytest.mark.parametrize("name, signature", [
    ("keras", "serving_default"), ("keras_export", "serving_default"), ("keras_lstm", "serving_default"),
    ("module", "affine"),
    ("tf1", "serving_default"), ("tf1_partitioned", "serving_default")])
def test_compiled_signature_matches_tensorflow(saved, compiled, name, signature):
    case, artifact = saved[name], compiled[name]
    program = artifact.program
    assert [a.name for a in program.args] == sorted(case.inputs[signature])
    assert [r.name for r in program.results] == sorted(case.outputs[signature])
    assert program.variables == []  # all frozen
    got = artifact.load()(**case.inputs[signature])
    got = got if isinstance(got, (list, tuple)) else [got]
    for value, key in zip(got, sorted(case.outputs[signature])):
        np.testing.assert_allclose(value, case.outputs[signature][key], rtol=RTOL, atol=ATOL)


_COUNTER_MAIN = r"""
#include <cstdio>
#include "out/counter.h"

// Written against the header saved_model_cli aot_compile_cpu generates.
int main() {
  counters::Counter model;
  const float a[3] = {@A@}, b[3] = {@B@};
  float count = 1.5f;
  for (int i = 0; i < 3; ++i) {
    model.arg_feed_a(i) = a[i];
    model.arg_feed_b_data()[i] = b[i];
  }
  model.set_var_param_count_data(&count);
  if (!model.Run()) return 1;
  for (int i = 0; i < 3; ++i) std::printf("%.9g\n", model.result_fetch_sum(i));
  std::printf("%.9g %.9g\n", model.result_fetch_count(), count);
  std::printf("%d %d %d %d\n", model.LookupArgIndex("feed_b"),
              model.LookupResultIndex("fetch_sum"), model.LookupVariableIndex("param_count"),
              model.ProgramShape() == nullptr);
  return 0;
}
"""


def test_aot_compile_cpu_is_source_compatible(saved, tmp_path):
    case = saved["module"]
    prefix = tmp_path / "out" / "counter"
    proc = run_aotc("aot_compile_cpu", "--dir", case.path, "--tag_set", "serve",
                    "--signature_def_key", "counter", "--output_prefix", prefix,
                    "--cpp_class", "counters::Counter", "--variables_to_feed", "count",
                    "--multithreading", "False", "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ("aotc: note: --overwrite has no effect: it does not apply to "
                           "aot_compile_cpu\n")
    for suffix in (".h", ".o", "_metadata.o", "_constants.o", "_makefile.inc"):
        assert (tmp_path / "out" / f"counter{suffix}").is_file(), suffix
    meta = json.loads((tmp_path / "out" / "counter.json").read_text())
    # saved_model_cli's rule: __xla_<prefix>__<class>, non-alphanumeric runs as '_'.
    assert meta["entry_symbol"] == re.sub("[^0-9a-zA-Z]+", "_",
                                          f"__xla_{prefix}__counters::Counter")
    assert [a["name"] for a in meta["args"]] == ["feed_a", "feed_b", "param_count"]
    assert [r["name"] for r in meta["results"]] == ["fetch_count", "fetch_sum", ""]
    assert "INC = -I" in (tmp_path / "out" / "counter_makefile.inc").read_text()

    inputs = case.inputs["counter"]
    source = _COUNTER_MAIN.replace("@A@", ", ".join(map(repr, inputs["a"].tolist()))) \
                          .replace("@B@", ", ".join(map(repr, inputs["b"].tolist())))
    (tmp_path / "main.cc").write_text(source)
    exe = build_cpp([tmp_path / "main.cc"], tmp_path / "main", include=[tmp_path],
                    objects=[tmp_path / "out" / "counter.o"])
    lines = run_program(exe).split("\n")
    want = case.outputs["counter"]
    np.testing.assert_allclose([float(v) for v in lines[:3]], want["sum"], rtol=RTOL, atol=ATOL)
    assert lines[3] == f"{float(want['count']):.9g} {float(want['count']):.9g}"
    assert lines[4] == "1 1 2 1"  # a variable's index is its arg index


_NO_TENSORFLOW = """
import sys
sys.modules["tensorflow"] = None  # from here on, `import tensorflow` raises ImportError
try:
    import tensorflow  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("tensorflow is importable")
import numpy as np
import aotc
from aotc.cli import main

saved_model, out, inputs, results = sys.argv[1:]
status = main(["compile", saved_model, "--cpp_class", "ns::Keras", "-o", out])
if status:
    raise SystemExit(status)
np.save(results, aotc.load(out)(np.load(inputs)))
loaded = sorted(m for m, v in sys.modules.items() if v is not None and "tensorflow" in m)
if loaded:
    raise SystemExit(f"imported {loaded}")
"""


def test_compile_and_run_without_tensorflow(saved, tmp_path):
    case = saved["keras"]
    np.save(tmp_path / "x.npy", case.inputs["serving_default"]["inputs"])
    proc = subprocess.run([sys.executable, "-c", _NO_TENSORFLOW, str(case.path),
                           str(tmp_path / "out"), str(tmp_path / "x.npy"),
                           str(tmp_path / "y.npy")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"),
                               case.outputs["serving_default"]["output_0"],
                               rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("args, message", [
    (["--signature_def_key", "nope"],
     "has no signature 'nope'; its signatures: affine, counter, loop"),
    (["--signature_def_key", "affine", "--tag_set", "train"],
     "has no MetaGraph tagged 'train'; its tag sets: serve"),
    (["--signature_def_key", "counter"], "assigns to variable 'count'"),
])
def test_cli_errors(saved, tmp_path, args, message):
    proc = run_aotc("compile", saved["module"].path, *args, "-o", tmp_path / "out")
    assert proc.returncode == 1
    assert proc.stderr.startswith("aotc: error: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_cli_input_errors(saved, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, message in [
        ([empty], "is not a SavedModel: it has no saved_model.pb"),
        ([saved["module"].path, empty / "config.pbtxt"], "which takes no Config"),
        ([ROOT / "examples/matmul/graph.pbtxt", ROOT / "examples/matmul/config.pbtxt",
          "--signature_def_key", "x"], "--signature_def_key applies to SavedModel "
                                       "directories only"),
        ([ROOT / "examples/matmul/graph.pbtxt"], "no Config: pass CONFIG"),
    ]:
        proc = run_aotc("compile", *args, "-o", tmp_path / "out")
        assert proc.returncode == 1, args
        assert proc.stderr.startswith("aotc: error: ") and message in proc.stderr, proc.stderr
        assert not (tmp_path / "out").exists()


def test_aot_compile_cpu_errors(saved, tmp_path):
    path = saved["module"].path
    proc = run_aotc("aot_compile_cpu", "--dir", path, "--signature_def_key", "nope",
                    "--output_prefix", tmp_path / "out" / "m", "--cpp_class", "ns::M")
    assert proc.returncode == 1
    assert proc.stderr.startswith("aotc: error: the SavedModel in ")
    assert "has no signature 'nope'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
    proc = run_aotc("aot_compile_cpu", "--dir", path, "--output_prefix", tmp_path / "m")
    assert proc.returncode == 1
    assert "the following arguments are required: --cpp_class" in proc.stderr
