"""The HLO verifier: valid modules pass; each kind of breakage is reported by name."""

import numpy as np
import pytest

from aotc.hlo import Builder, Instruction, Module, Shape, scalar_computation
from aotc.hlo.parser import parse_module
from aotc.hlo.verifier import HloVerifierError, find_problems, verify

from every_opcode import every_opcode_module, tuple_reducer

F2 = Shape.array("f32", [2])
F = Shape.array("f32", [])


def problems_of(module: Module) -> list[str]:
    with pytest.raises(HloVerifierError) as err:
        verify(module)
    assert isinstance(err.value, ValueError)
    assert err.value.problems == find_problems(module)
    for problem in err.value.problems:
        assert problem in str(err.value)
    return err.value.problems


def simple() -> tuple[Builder, Instruction, Instruction]:
    b = Builder("main")
    x = b.parameter(F2, "x")
    y = b.unary("negate", x)
    y.name = "neg"
    return b, x, y


def test_valid_modules_pass():
    verify(every_opcode_module())
    b, _, _ = simple()
    verify(b.module())
    assert find_problems(b.module()) == []


def test_operand_from_another_computation():
    other = Builder("other")
    stray = other.parameter(F2, "stray")
    b, x, y = simple()
    y.operands = [stray]
    (problem,) = problems_of(b.module())
    assert "computation main, instruction neg (negate)" in problem
    assert "operand 0 (stray) is not in the computation" in problem


def test_operand_defined_after_use():
    b, x, y = simple()
    z = b.unary("negate", y)
    z.name = "z"
    comp = b.build()
    comp.instructions = [x, z, y]
    comp.root = y
    (problem,) = problems_of(Module("m", comp))
    assert "instruction z (negate): operand 0 (neg) is defined after its use" in problem


def test_duplicate_names_across_the_module():
    reducer = scalar_computation("add", "f32")
    reducer.instructions[0].name = "x"  # same as the entry's parameter
    b = Builder("main")
    x = b.parameter(F2, "x")
    b.reduce(x, b.constant(np.float32(0)), [0], reducer)
    (problem,) = problems_of(b.module())
    assert "instruction name 'x' is used 2 times" in problem
    assert "add_f32" in problem and "main" in problem


def test_wrong_arity():
    b, x, y = simple()
    y.operands = [x, x]
    problems = problems_of(b.module())
    assert any("instruction neg (negate): takes 1 operands, has 2" in p for p in problems)


def test_reduce_needs_pairs_of_operands():
    b = Builder("main")
    x = b.parameter(F2, "x")
    r = b.reduce(x, b.constant(np.float32(0)), [0], scalar_computation("add", "f32"))
    r.name = "r"
    r.operands.append(x)
    problems = problems_of(b.module())
    assert any("instruction r (reduce): takes n inputs and n init values" in p for p in problems)


def test_shape_mismatch_with_inference():
    b, x, y = simple()
    y.shape = Shape.array("f32", [3])
    (problem,) = problems_of(b.module())
    assert "instruction neg (negate): shape f32[3]{0} does not match the inferred f32[2]{0}" \
        in problem


def test_layout_differences_are_not_shape_mismatches():
    b, x, y = simple()
    x.shape = Shape.array("f32", [2, 3], layout=[0, 1])
    y.shape = Shape.array("f32", [2, 3])
    verify(b.module())


def test_shape_inference_failure_is_reported():
    b, x, y = simple()
    bad = b.add("transpose", [x], {"dimensions": (0,)}, shape=F2, name="t")
    bad.attrs["dimensions"] = (1, 0)
    (problem,) = problems_of(b.module())
    assert "instruction t (transpose): shape inference failed" in problem


def test_parameter_numbers():
    b = Builder("main")
    p0 = b.parameter(F2, "p0")
    p1 = b.parameter(F2, "p1")
    p2 = b.parameter(F2, "p2")
    p1.attrs["parameter_number"] = 0
    p2.attrs["parameter_number"] = 5
    b.tuple([p0, p1, p2])
    problems = problems_of(b.module())
    assert any("instruction p1 (parameter): duplicate parameter number 0" in p for p in problems)
    assert any("instruction p2 (parameter): parameter number 5 is outside 0..2" in p
               for p in problems)


def test_missing_root_and_root_outside_the_computation():
    b, x, y = simple()
    comp = b.build()
    comp.root = None
    (problem,) = problems_of(Module("m", comp))
    assert problem == "computation main: has no root instruction"
    comp.root = Instruction("parameter", F2, attrs={"parameter_number": 0}, name="ghost")
    (problem,) = problems_of(Module("m", comp))
    assert "computation main: root ghost is not an instruction of the computation" in problem


def test_missing_entry():
    (problem,) = problems_of(Module("empty"))
    assert "module empty has no entry computation" in problem


def test_constant_literal_must_match_the_shape():
    b = Builder("main")
    c = b.constant(np.array([1, 2], np.float32))
    c.name = "c"
    c.attrs["literal"] = np.array([1, 2], np.int32)
    (problem,) = problems_of(b.module())
    assert "instruction c (constant): literal dtype int32 does not match element type f32" \
        in problem
    c.attrs["literal"] = np.array([1, 2, 3], np.float32)
    (problem,) = problems_of(b.module())
    assert "instruction c (constant): literal shape (3,) does not match f32[2]" in problem
    c.attrs["literal"] = [1.0, 2.0]
    (problem,) = problems_of(b.module())
    assert "literal is list, not a NumPy array" in problem


def test_reducer_signature():
    b = Builder("main")
    x = b.parameter(F2, "x")
    wrong = scalar_computation("add", "s32", "add_s32")
    r = b.reduce(x, b.constant(np.float32(0)), [0], wrong)
    r.name = "r"
    problems = problems_of(b.module())
    assert any("instruction r (reduce): reducer add_s32 parameter 0 is s32[], expected f32[]" in p
               for p in problems)
    assert any("reducer add_s32 returns s32[], expected f32[]" in p for p in problems)


def test_reducer_parameter_count_and_tuple_result():
    b = Builder("main")
    x = b.parameter(F2, "x")
    i = b.iota(Shape.array("s32", [2]), 0)
    r = b.add("reduce", [x, i, b.constant(np.float32(0)), b.constant(np.int32(0))],
              {"dimensions": (0,)}, called=[tuple_reducer()], name="r")
    verify(b.module())
    r.called_computations = [scalar_computation("add", "f32")]
    problems = problems_of(b.module())
    assert any("instruction r (reduce): reducer add_f32 takes 2 parameters, expected 4" in p
               for p in problems)


def test_call_arity_and_called_computation_count():
    callee = scalar_computation("add", "f32", "adder")
    b = Builder("main")
    a = b.parameter(F, "a")
    c = b.call(callee, [a, a])
    c.name = "c"
    c.operands = [a]
    problems = problems_of(b.module())
    assert any("instruction c (call): shape inference failed: call passes 1 operands to adder "
               "taking 2" in p for p in problems)
    c.operands = [a, a]
    c.called_computations = []
    problems = problems_of(b.module())
    assert any("instruction c (call): calls 0 computations, expected 1" in p for p in problems)


def test_fusion_kind_and_iota_dimension():
    fused = scalar_computation("add", "f32", "fused")
    b = Builder("main")
    a = b.parameter(F, "a")
    fu = b.add("fusion", [a, a], {"kind": "kWhatever"}, called=[fused], name="fu")
    io = b.iota(Shape.array("s32", [2]), 3)
    io.name = "io"
    b.tuple([fu, io])
    problems = problems_of(b.module())
    assert any("instruction fu (fusion): fusion kind 'kWhatever'" in p for p in problems)
    assert any("instruction io (iota): iota_dimension 3 is out of range" in p for p in problems)


def test_invalid_layout():
    b, x, y = simple()
    broken = Shape.array("f32", [2])
    object.__setattr__(broken, "layout", (1,))  # bypass Shape's own check
    y.shape = broken
    (problem,) = problems_of(b.module())
    assert "instruction neg (negate): layout (1,) of f32[2] is not a permutation" in problem


def test_every_problem_is_reported_at_once():
    b, x, y = simple()
    y.shape = Shape.array("f32", [3])
    z = b.unary("negate", x)
    z.name = "neg"  # duplicate name
    x.attrs["parameter_number"] = 1
    problems = problems_of(b.module())
    assert len(problems) == 3
    assert "HLO verification failed (3 problems)" in str(HloVerifierError(problems))


def test_parsed_text_is_verified_clean():
    verify(parse_module("HloModule m\nENTRY e {\n  a = f32[2] parameter(0)\n"
                        "  ROOT b = f32[2] exponential(a)\n}\n"))
