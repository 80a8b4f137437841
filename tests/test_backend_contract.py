"""The backend contract: the driver finds backends in the registry, resolves options once
into a frozen object, runs a backend's own HLO passes and flags, reserves its arena
scratch, and writes everything atomically (tfcompile's output paths included)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import aotc
from aotc.backends import registry
from aotc.backends.base import BackendFlag, BackendResult
from aotc.backends.cpu import CpuBackend
from aotc.options import CompileOptions, OptionError
from aotc.passes.pass_base import ModulePass

from conftest import EXAMPLES

GRAPH = EXAMPLES / "matmul/graph.pbtxt"
CONFIG = EXAMPLES / "matmul/config.pbtxt"


class _CountingPass(ModulePass):
    name = "count-instructions"
    runs = 0

    def run(self, module) -> bool:
        type(self).runs += 1
        return False


class _EchoBackend(CpuBackend):
    """The CPU backend with a flag of its own, an extra pass, scratch and an extra file."""

    name = "echo"
    flags = (BackendFlag("echo_level", "how loud", default="1", choices=("1", "2")),)

    def hlo_passes(self):
        return [_CountingPass()]

    def compile(self, module, assignment) -> BackendResult:
        result = super().compile(module, assignment)
        level = self.options.backend_flag("echo_level")
        return dataclasses.replace(
            result, scratch_bytes=100, info={"echo_level": level},
            files={**result.files, f"{self.options.name}.echo": level.encode()})


@pytest.fixture
def echo_backend(monkeypatch):
    monkeypatch.setitem(registry._BACKENDS, "echo", _EchoBackend)
    yield _EchoBackend


def test_cpu_is_registered_and_the_default():
    assert registry.backend_names()[0] == "cpu"
    assert registry.get_backend("cpu") is CpuBackend


def test_a_registered_backend_plugs_in_with_its_flag_passes_and_scratch(echo_backend, tmp_path):
    _CountingPass.runs = 0
    art = aotc.compile(GRAPH, CONFIG, tmp_path / "out", cpp_class="t::M", name="m",
                       backend="echo", echo_level="2")
    meta = json.loads(art.metadata.read_text())
    assert meta["backend"] == "echo"
    assert meta["backend_info"] == {"echo_level": "2"}
    # The matmul needs no temporaries: the arena is the backend's scratch alone.
    assert meta["temp_bytes"] == 100
    assert (tmp_path / "out/m.echo").read_text() == "2"
    assert _CountingPass.runs == 1
    x = [[1, 2, 3], [4, 5, 6]]
    y = [[7, 8], [9, 10], [11, 12]]
    out = art.load()(np.array(x, np.float32), np.array(y, np.float32))
    np.testing.assert_array_equal(out, np.array(x, np.float32) @ np.array(y, np.float32))


def test_backend_flags_are_checked_against_the_chosen_backend(echo_backend):
    with pytest.raises(OptionError, match="--echo_level applies to --backend echo, not cpu"):
        CompileOptions.from_kwargs(echo_level="2").resolve()
    with pytest.raises(OptionError, match="--echo_level must be one of 1, 2"):
        CompileOptions.from_kwargs(backend="echo", echo_level="3").resolve()
    opts = CompileOptions.from_kwargs(backend="echo").resolve()
    assert opts.backend_flag("echo_level") == "1"


def test_unknown_backend_is_an_option_error():
    with pytest.raises(OptionError, match="--backend must be one of"):
        CompileOptions(backend="tpu").resolve()


def test_options_are_resolved_once_into_a_frozen_object():
    raw = CompileOptions(cpp_class="ns::MatMulComp", out_function_object="lib/mm.o")
    opts = raw.resolve()
    assert (opts.name, opts.out_dir, opts.entry_point) == ("mm", "lib", "mm_entry")
    assert opts.resolve() is opts and not raw.resolved
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.name = "other"


def test_tfcompile_outputs_are_written_with_the_artifact(tmp_path):
    art = aotc.compile(GRAPH, CONFIG, tmp_path / "out", cpp_class="t::M", name="m",
                       out_header=str(tmp_path / "inc/m.h"),
                       out_function_object=str(tmp_path / "lib/m.o"),
                       out_metadata_object=str(tmp_path / "lib/m_meta.o"))
    assert (tmp_path / "inc/m.h").read_bytes() == (tmp_path / "out/m.h").read_bytes()
    assert (tmp_path / "inc/aotc_runtime.h").exists()
    assert (tmp_path / "lib/m.o").read_bytes() == (tmp_path / "out/m.o").read_bytes()
    assert (tmp_path / "lib/m_meta.o").stat().st_size > 0
    assert str(tmp_path / "lib/m_meta.o") in art.files


def test_a_failing_output_leaves_nothing_behind(tmp_path):
    (tmp_path / "blocker").write_text("a file where a directory is needed")
    with pytest.raises(OSError):
        aotc.compile(GRAPH, CONFIG, tmp_path / "new/out", cpp_class="t::M", name="m",
                     out_header=str(tmp_path / "inc/deep/m.h"),
                     out_metadata_object=str(tmp_path / "blocker/m_meta.o"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
