"""LLVM optimization in parts (backends/cpu/module_parts.py) and the merge of the parts'
objects (backends/cpu/elf_merge.py).

A hand-built LLVM module (an entry calling kernels in other parts, a small constant two
parts read, a big one two parts read, one only its own part reads) is cut into parts,
optimized in forked workers and brought back together: the cut is deterministic and
balanced; linked as IR, what crossed parts is internal again and the code computes what
the whole module computes (run through LLVM's JIT); the parts' objects merged into one
and linked into a shared library compute the same, export only the entry and keep the
kernels local. Cut off early (as the emitter does with the kernels it has completed) or as a
whole, the same holds. A worker's failure is reported with its traceback. A real model
compiled with its parts in forked processes or in-process gives the same object bytes.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys

import llvmlite.binding as llvm
import llvmlite.ir as ir
import numpy as np
import pytest

from aotc.backends.cpu import module_parts
from aotc.backends.cpu.elf_merge import can_merge, merge_elf
from aotc.backends.cpu.module_parts import PartPipeline, plan_parts
from aotc.backends.cpu.target import create_target_machine, resolve_target

F32, I64 = ir.FloatType(), ir.IntType(64)
KERNELS = 6
SMALL, BIG = 16, 2048  # floats: under and over module_parts.COPY_BYTES


def _module() -> ir.Module:
    """entry(out: f32*) -> out[k] = kernel_k() for k < KERNELS; kernel_k sums its constants
    (kernel 0 and 1 read `small`, 1 and 2 read `big`, 3 reads `own`) with k extra adds, so
    the kernels differ in size."""
    module = ir.Module("parts")
    module.triple = llvm.get_process_triple()
    rng = np.random.default_rng(0)

    def constant(name, count):
        var = ir.GlobalVariable(module, ir.ArrayType(F32, count), name)
        var.initializer = ir.Constant(var.value_type, [float(v) for v in rng.random(count)])
        var.global_constant = True
        var.linkage = "private"
        return var

    tables = {"small": constant("small", SMALL), "big": constant("big", BIG),
              "own": constant("own", BIG)}
    reads = {0: ["small"], 1: ["small", "big"], 2: ["big"], 3: ["own"]}
    kernels = []
    for k in range(KERNELS):
        fn = ir.Function(module, ir.FunctionType(F32, []), f"kernel.{k}")
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        total = ir.Constant(F32, float(k))
        for name in reads.get(k, []):
            table = tables[name]
            for i in (0, 5, table.value_type.count - 1):
                pointer = b.gep(table, [ir.Constant(I64, 0), ir.Constant(I64, i)], inbounds=True)
                total = b.fadd(total, b.load(pointer))
        for i in range(40 * (k + 1)):
            total = b.fadd(total, ir.Constant(F32, 0.5 * i))
        b.ret(total)
        kernels.append(fn)
    entry = ir.Function(module, ir.FunctionType(ir.VoidType(), [F32.as_pointer()]), "entry")
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    for k, kernel in enumerate(kernels):
        b.store(b.call(kernel, []), b.gep(entry.args[0], [ir.Constant(I64, k)]))
    b.ret_void()
    return module


_MACHINE = create_target_machine(resolve_target(None, None, None), 2)


@pytest.fixture
def machine():
    return _MACHINE


def _optimize(part):
    builder = llvm.create_pass_builder(_MACHINE,
                                       llvm.create_pipeline_tuning_options(speed_level=2))
    builder.getModulePassManager().run(part, builder)


def _run(module_ref) -> np.ndarray:
    # The engine takes ownership of its target machine: a machine of its own.
    engine = llvm.create_mcjit_compiler(
        module_ref, create_target_machine(resolve_target(None, None, None), 2))
    engine.finalize_object()
    out = np.zeros(KERNELS, np.float32)
    ctypes.CFUNCTYPE(None, ctypes.c_void_p)(engine.get_function_address("entry"))(
        out.ctypes.data)
    return out


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(module_parts, "PART_INSTRUCTIONS", 100)
    monkeypatch.setattr(module_parts, "MAX_PARTS", 3)
    monkeypatch.setattr(module_parts, "CHUNK_INSTRUCTIONS", 300)


def _compiled(machine, optimize, early: bool):
    """The test module through a PartPipeline; `early`: its kernels cut off as the emitter
    would once they are complete (the entry still open), before the rest."""
    module = _module()
    pipeline = PartPipeline(module, machine, optimize, {})
    if early:
        pipeline.advance((module.globals["entry"],))
        assert pipeline.plan.parts == 1
    return pipeline.finish()


def test_plan_is_balanced_deterministic_and_finds_what_crosses(small_parts, machine):
    module = _module()
    plan = plan_parts(module, machine.target_data)
    assert plan.parts == 3
    assert plan == plan_parts(_module(), machine.target_data)
    sizes = [0] * plan.parts
    for fn in module.functions:
        sizes[plan.function_part[fn.name]] += sum(len(b.instructions) for b in fn.blocks)
    assert max(sizes) - min(sizes) <= max(sizes) // 2
    assert plan.copied == {"small"}  # copied into each part that reads it
    crossing = {f"kernel.{k}" for k in range(KERNELS)
                if plan.function_part[f"kernel.{k}"] != plan.function_part["entry"]}
    big_readers = plan.global_parts["big"]
    assert set(plan.exported) == crossing | ({"big"} if len(big_readers) > 1 else set())
    assert plan.global_parts["own"] == {plan.function_part["kernel.3"]}


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "in-process"])
@pytest.mark.parametrize("early", [False, True], ids=["whole", "early"])
def test_parts_link_back_into_the_same_computation(small_parts, machine, early, fork,
                                                   monkeypatch):
    if not fork:  # every part printed by this process, one after another
        monkeypatch.setattr(module_parts, "_can_fork", lambda: False)
    whole = llvm.parse_assembly(str(_module()))
    _optimize(whole)
    expected = _run(whole)
    linked = _compiled(machine, _optimize, early).module()
    linked.verify()
    for fn in linked.functions:
        if fn.name.startswith("kernel.") and not fn.is_declaration:
            assert fn.linkage == llvm.Linkage.internal, fn.name
    np.testing.assert_array_equal(_run(linked), expected)


def test_early_parts_stop_at_their_cap(small_parts, machine, monkeypatch):
    """After MAX_EARLY_PARTS early parts, completed kernels wait for the last cut (the
    claims of every part must fit one pipe write)."""
    monkeypatch.setattr(module_parts, "MAX_EARLY_PARTS", 1)
    monkeypatch.setattr(module_parts, "CHUNK_INSTRUCTIONS", 1)
    module = _module()
    pipeline = PartPipeline(module, machine, _optimize, {})
    kernels = [module.globals[f"kernel.{k}"] for k in range(KERNELS)]
    for k in range(KERNELS):  # each kernel completed in turn, as the emitter reports them
        pipeline.advance(tuple(kernels[k + 1:]) + (module.globals["entry"],))
    assert pipeline.plan.parts == 1
    whole = llvm.parse_assembly(str(_module()))
    _optimize(whole)
    np.testing.assert_array_equal(_run(pipeline.finish().module()), _run(whole))


def test_a_worker_failure_is_reported(small_parts, machine, monkeypatch):
    if not module_parts._can_fork() or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core or no fork: the parts run in this process")
    parent = os.getpid()

    def fail_in_worker(part):
        if os.getpid() != parent:
            raise ValueError("worker boom")
        _optimize(part)

    with pytest.raises(RuntimeError, match="worker boom"):
        PartPipeline(_module(), machine, fail_in_worker, {}).finish()


@pytest.mark.skipif(not can_merge(llvm.get_process_triple()) or shutil.which("cc") is None,
                    reason="the host's objects are not merged, or no C compiler")
@pytest.mark.parametrize("early", [False, True], ids=["whole", "early"])
def test_merged_object_links_and_computes_the_same(small_parts, machine, tmp_path, early):
    whole = llvm.parse_assembly(str(_module()))
    _optimize(whole)
    expected = _run(whole)
    parts = _compiled(machine, _optimize, early)
    assert all(code.object_code for code in parts.codes)
    merged = merge_elf([code.object_code for code in parts.codes], set(parts.plan.exported))
    assert merged is not None and merged == parts.object_code()
    obj = tmp_path / "merged.o"
    obj.write_bytes(merged)
    library = tmp_path / "merged.so"
    subprocess.run(["cc", "-shared", "-o", str(library), str(obj)], check=True)
    lib = ctypes.CDLL(str(library))
    out = np.zeros(KERNELS, np.float32)
    lib.entry(ctypes.c_void_p(out.ctypes.data))
    np.testing.assert_array_equal(out, expected)
    with pytest.raises(AttributeError):
        getattr(lib, "kernel.1")  # made local again: not exported
    assert merge_elf([b"not an object"], set()) is None


_COMPILE = """
import sys
import aotc
from aotc.backends.cpu import module_parts
from aotc.backends.cpu.module_parts import PartPipeline
module_parts.PART_INSTRUCTIONS, module_parts.CHUNK_INSTRUCTIONS = 200, 800
module_parts._can_fork = lambda: sys.argv[4] == "fork"
finish = PartPipeline.finish
def spy(pipeline):
    result = finish(pipeline)
    print(pipeline.plan.parts, sorted(pipeline.plan.function_part.items()))
    return result
PartPipeline.finish = spy
aotc.compile(*sys.argv[1:4])
"""


def test_same_object_in_forked_workers_and_in_process(tmp_path):
    """Fresh processes (names in the object count per process), one forking its parts
    off, one compiling them in-process: the same plan and object bytes."""
    from models import frozen_cnn, lenet

    graph, config = frozen_cnn(lenet, (28, 28, 1), 2, seed=0).write(tmp_path / "graph")
    plans, objects = [], []
    for mode in ("fork", "in-process"):
        out = tmp_path / mode
        run = subprocess.run([sys.executable, "-c", _COMPILE, str(graph), str(config), str(out),
                              mode], capture_output=True, text=True, check=True)
        plans.append(run.stdout.splitlines()[-1])
        objects.append((out / "graph.o").read_bytes())
    assert int(plans[0].split()[0]) > 2  # early parts, then the rest cut in two
    assert plans[0] == plans[1]
    assert objects[0] == objects[1]


def test_leaving_early_stops_the_workers(small_parts, machine, monkeypatch):
    """An error while the module is still being emitted: the processes compiling early
    parts are stopped and reaped, their files removed."""
    monkeypatch.setattr(module_parts, "_can_fork", lambda: True)
    module = _module()
    with pytest.raises(KeyboardInterrupt):
        with PartPipeline(module, machine, _optimize, {}) as pipeline:
            pipeline.cores = 2  # a core for a child beside the emitter, whatever the host
            pipeline.advance((module.globals["entry"],))
            children = list(pipeline.children)
            assert children
            raise KeyboardInterrupt
    assert not pipeline.children
    for child in children:
        assert not os.path.exists(child.path)
        with pytest.raises(ChildProcessError):
            os.waitpid(child.pid, 0)  # already reaped
