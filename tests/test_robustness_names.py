"""Names that would break the artifact are errors naming both sides; names tfcompile
accepts are accepted. Compiled in-process through `main(argv)`."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

import aotc
from aotc import names
from robustness import compile_protos, config, new_graph, node, placeholder


def _relu_graph():
    g = new_graph()
    placeholder(g, "a", [2])
    node(g, "s", "Relu", ["a"])
    return g, config([("a", [2])], ["s"])


@pytest.mark.parametrize("flags, message", [
    (["--name", "aotc_runtime"], "invalid artifact name 'aotc_runtime': aotc_runtime.h is the "
                                 "runtime header"),
    (["--entry_point", "memcpy"], "entry symbol 'memcpy' is a symbol of the C/C++ runtime "
                                  "libraries"),
    (["--entry_point", "malloc"], "entry symbol 'malloc' is a symbol"),
    (["--entry_point", "main"], "entry symbol 'main' is the program's own entry point"),
    (["--entry_point", "MODEL_NUM_ARGS"], "the macros of --name model and the entry symbol "
                                          "(--entry_point MODEL_NUM_ARGS) both generate"),
    (["--cpp_class", "std"], "'std' is the C++ standard library's namespace"),
    (["--cpp_class", "NULL"], "'NULL' is a macro of the standard C/C++ headers"),
    (["--cpp_class", "errno"], "'errno' is a macro of the standard C/C++ headers"),
    (["--cpp_class", "AotcRunOptions"], "'AotcRunOptions' is declared by aotc_runtime.h"),
    (["--cpp_class", "printf::Model"], "'printf' is a symbol of the C/C++ runtime libraries"),
    (["--cpp_class", "__x::Model"], "'__x' is an identifier reserved for the C/C++ "
                                    "implementation"),
])
def test_reserved_names_are_errors(tmp_path, flags, message):
    g, cfg = _relu_graph()
    outcome = compile_protos(tmp_path, g, cfg, *flags)
    outcome.check_clean()
    assert outcome.status == 1 and message in outcome.stderr, outcome.stderr


def test_accessor_overloads_name_both_feeds(tmp_path):
    g = new_graph()
    placeholder(g, "a", [2])
    placeholder(g, "a_data", [2])
    node(g, "s", "AddV2", ["a", "a_data"])
    cfg = config([("a", [2]), ("a_data", [2])], ["s"])
    cfg.feed[0].name, cfg.feed[1].name = "a", "a_data"
    outcome = compile_protos(tmp_path, g, cfg)
    outcome.check_clean()
    assert "feed 'a' and feed 'a_data' both generate the identifier 'arg_a_data'" in \
        outcome.stderr


@pytest.mark.parametrize("kind", ["fetch", "variable"])
def test_result_and_variable_accessors_collide_too(kind):
    from aotc.runtime.program import Program, TensorSpec, VariableSpec

    spec = [TensorSpec("w", "n", "float32", (2,)), TensorSpec("w_size", "m", "float32", (2,))]
    if kind == "fetch":
        program = Program("m", "M", "m_entry", args=[], results=spec)
        expected = "fetch 'w' and fetch 'w_size' both generate the identifier 'result_w_size'"
    else:
        variables = [VariableSpec(s.name, s.node, s.dtype, s.shape, readonly=True,
                                  arg_index=i) for i, s in enumerate(spec)]
        program = Program("m", "M", "m_entry", args=spec, results=[], variables=variables)
        expected = "variable 'w' and variable 'w_size' both generate the identifier 'var_w_size'"
    with pytest.raises(ValueError, match=expected):
        names.check_program_names(program)


def test_feeds_that_escape_alike_compile_and_stay_apart(tmp_path):
    g = new_graph()
    placeholder(g, "a/b", [2])
    placeholder(g, "a_b", [2])
    node(g, "s", "Sub", ["a/b", "a_b"])
    outcome = compile_protos(tmp_path, g, config([("a/b", [2]), ("a_b", [2])], ["s"]))
    outcome.check_clean()
    assert outcome.status == 0
    model = aotc.load(outcome.out_dir)
    x, y = np.array([5.0, 7.0], np.float32), np.array([1.0, 2.0], np.float32)
    np.testing.assert_array_equal(model(x, y), x - y)


def test_global_namespace_class_as_tfcompile_spells_it(tmp_path):
    g, cfg = _relu_graph()
    outcome = compile_protos(tmp_path, g, cfg, "--cpp_class", "::foo::bar::MatMulAndAddComp")
    outcome.check_clean()
    assert outcome.status == 0
    source = tmp_path / "use.cc"
    source.write_text('#include "model.h"\n'
                      "::foo::bar::MatMulAndAddComp* make() { return nullptr; }\n")
    proc = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-Wall", "-Werror",
                           f"-I{outcome.out_dir}", str(source)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
