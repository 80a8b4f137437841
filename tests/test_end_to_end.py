"""End to end: compile with the CLI, link into C++ with g++, run; and load from Python.

The tfcompile guide's matmul example and a frozen Keras MLP (784-256-128-10, softmax),
each compared with the values TensorFlow computes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import aotc
from conftest import EXAMPLES, ROOT, build_cpp, run_aotc, run_program
from compiled import CROSS_TARGETS, cross_toolchain
from models import keras_mlp

# f32 MLP through three dense layers and softmax: XLA/TF differ from us only in the
# summation order of the dots (K = 784, 256, 128) and in exp's last ulp.
MLP_RTOL, MLP_ATOL = 1e-5, 1e-6


def test_tfcompile_guide_example_prints_success(matmul_artifact, tmp_path):
    exe = build_cpp([EXAMPLES / "matmul/main.cc"], tmp_path / "matmul_main",
                    include=[matmul_artifact], objects=[matmul_artifact / "matmul.o"])
    out = run_program(exe)
    assert "Success" in out
    assert "58" in out


def test_matmul_metadata(matmul_artifact):
    meta = json.loads((matmul_artifact / "matmul.json").read_text())
    assert [a["name"] for a in meta["args"]] == ["x", "y"]
    assert [a["shape"] for a in meta["args"]] == [[2, 3], [3, 2]]
    assert meta["results"][0]["name"] == "x_y_prod"
    assert meta["results"][0]["shape"] == [2, 2]
    assert meta["cpp_class"] == "foo::bar::MatMulComp"
    assert meta["entry_symbol"] == "matmul_entry"


def test_matmul_from_python(matmul_artifact):
    model = aotc.load(matmul_artifact)
    x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    y = np.arange(7, 13, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(model(x, y), [[58, 64], [139, 154]])
    np.testing.assert_array_equal(model(x=x, y=y), x @ y)


def test_object_file_needs_only_memcpy_and_memset(matmul_artifact, mlp_artifact):
    import subprocess

    for obj in (matmul_artifact / "matmul.o", mlp_artifact["dir"] / "mlp.o"):
        undefined = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True,
                                   check=True).stdout.split()
        symbols = {s for s in undefined if s not in ("U", "w")}
        assert symbols <= {"memcpy", "memset"}, symbols


@pytest.fixture(scope="session")
def mlp_artifact(tmp_path_factory):
    model = keras_mlp(batch=2)
    work = tmp_path_factory.mktemp("mlp")
    graph, config = model.write(work)
    out = work / "out"
    run_aotc("compile", graph, config, "--cpp_class", "models::Mlp", "--name", "mlp",
             "-o", out, check=True)
    inputs = model.random_inputs(seed=7)
    return {"dir": out, "inputs": inputs, "expected": model.reference(*inputs), "work": work}


def test_keras_mlp_from_cpp(mlp_artifact, tmp_path):
    out = mlp_artifact["dir"]
    exe = build_cpp([ROOT / "tests/harness.cc"], tmp_path / "harness", include=[out],
                    objects=[out / "mlp.o"],
                    flags=("-O1", '-DAOTC_HEADER="mlp.h"', "-DAOTC_CLASS=models::Mlp"))
    arg_files = []
    for i, x in enumerate(mlp_artifact["inputs"]):
        path = tmp_path / f"arg{i}.bin"
        path.write_bytes(x.tobytes())
        arg_files.append(path)
    run_program(exe, *arg_files, tmp_path)
    (expected,) = mlp_artifact["expected"]
    got = np.fromfile(tmp_path / "result0.bin", dtype=np.float32).reshape(expected.shape)
    np.testing.assert_allclose(got, expected, rtol=MLP_RTOL, atol=MLP_ATOL)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-6)


def test_keras_mlp_from_python(mlp_artifact):
    model = aotc.load(mlp_artifact["dir"])
    (expected,) = mlp_artifact["expected"]
    got = model(*mlp_artifact["inputs"])
    np.testing.assert_allclose(got, expected, rtol=MLP_RTOL, atol=MLP_ATOL)


def test_python_compile_api_matches_cli(tmp_path):
    artifact = aotc.compile(EXAMPLES / "matmul/graph.pbtxt", EXAMPLES / "matmul/config.pbtxt",
                            out_dir=tmp_path / "api", cpp_class="foo::bar::MatMulComp",
                            name="matmul")
    model = artifact.load()
    x = np.ones((2, 3), np.float32)
    y = np.ones((3, 2), np.float32)
    np.testing.assert_array_equal(model(x, y), np.full((2, 2), 3, np.float32))


def test_mlp_arena_is_smaller_than_the_sum_of_temporaries(tmp_path):
    from aotc.compiler import compile_graph
    from aotc.options import CompileOptions

    model = keras_mlp(batch=2)
    graph, config = model.write(tmp_path)
    result = compile_graph(graph, config, CompileOptions(cpp_class="models::Mlp"))
    a = result.assignment
    assert 0 < a.temp_bytes < a.unshared_temp_bytes
    assert result.program.temp_bytes == a.temp_bytes


def test_dump_hlo_writes_every_pass_and_the_buffer_report(tmp_path):
    dump = tmp_path / "dump"
    run_aotc("compile", EXAMPLES / "mlp/graph.pb", EXAMPLES / "mlp/config.pbtxt",
             "--cpp_class", "demo::Mlp", "-o", tmp_path / "out", "--dump-hlo", dump, check=True)
    names = sorted(p.name for p in dump.iterdir())
    assert "00-input.hlo" in names and "00-input.dot" in names
    assert any(n.endswith("-dce.hlo") for n in names)
    assert "buffer-assignment.txt" in names
    from aotc.hlo import parse_module

    last = sorted(n for n in names if n.endswith(".hlo"))[-1]
    parse_module((dump / last).read_text())  # every dump is valid HLO text


HOSTILE = 'x */ int evil(void); /* "q" ??/ \\ #include <stdio.h>'


def test_hostile_node_names_cannot_inject_code(tmp_path):
    """Node names are arbitrary strings; they reach generated code only escaped."""
    graph = tmp_path / "g.pbtxt"
    name = HOSTILE.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    graph.write_text(f'''
node {{ name: "{name}" op: "Placeholder" attr {{ key: "dtype" value {{ type: DT_FLOAT }} }}
       attr {{ key: "shape" value {{ shape {{ dim {{ size: 3 }} }} }} }} }}
node {{ name: "{name}/neg" op: "Neg" input: "{name}" attr {{ key: "T" value {{ type: DT_FLOAT }} }} }}
''')
    config = tmp_path / "c.pbtxt"
    config.write_text(f'feed {{ id {{ node_name: "{name}" }} name: "x" }}\n'
                      f'fetch {{ id {{ node_name: "{name}/neg" }} name: "y" }}\n')
    out = tmp_path / "out"
    run_aotc("compile", graph, config, "--cpp_class", "h::Hostile", "--name", "hostile",
             "-o", out, check=True)
    main = tmp_path / "main.cc"
    # If the name had escaped its comment, `evil` would be declared and this would clash.
    main.write_text('#include "hostile.h"\n#include <cstdio>\nstatic const int evil = 7;\n'
                    "int main() { h::Hostile m; m.arg_x_data()[1] = 2.f; m.Run();\n"
                    '  std::printf("%g\\n", m.result_y_data()[1] * evil); return 0; }\n')
    exe = build_cpp([main], tmp_path / "main", include=[out], objects=[out / "hostile.o"])
    assert run_program(exe).strip() == "-14"
    assert "evil" in (out / "hostile.h").read_text()  # the name is there, escaped


# (triple, --target_cpu or None for the architecture's default)
CROSS_BUILDS = [("aarch64-unknown-linux-gnu", "cortex-a72"),
                ("armv7-unknown-linux-gnueabihf", None), ("riscv64-unknown-linux-gnu", None)]


@pytest.mark.parametrize("triple,cpu", CROSS_BUILDS, ids=[t.split("-")[0] for t, _ in CROSS_BUILDS])
def test_cross_compiled_matmul_runs_under_qemu(tmp_path, triple, cpu):
    import subprocess

    if not cross_toolchain(triple):
        pytest.skip(f"needs {' and '.join(CROSS_TARGETS[triple])} (.ci/run installs them)")
    gcc, qemu = CROSS_TARGETS[triple]
    out = tmp_path / "out"
    run_aotc("compile", EXAMPLES / "matmul/graph.pbtxt", EXAMPLES / "matmul/config.pbtxt",
             "--cpp_class", "foo::bar::MatMulComp", "--name", "matmul", "-o", out,
             "--target_triple", triple, *(["--target_cpu", cpu] if cpu else []), check=True)
    exe = tmp_path / "matmul_cross"
    subprocess.run([gcc.replace("-gcc", "-g++"), "-std=c++17", "-O1", "-static", f"-I{out}",
                    str(EXAMPLES / "matmul/main.cc"), str(out / "matmul.o"), "-pthread",
                    "-o", str(exe)], check=True)
    proc = subprocess.run([qemu, str(exe)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Success" in proc.stdout
