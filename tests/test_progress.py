"""Compile progress (aotc/progress.py): the status line on a terminal, `--quiet`, the time
per stage of `--report`, when pipelines run the verifier, and a start-up without LLVM for
the commands that need no backend."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys

import pytest

from aotc.hlo import Shape
from aotc.hlo.parser import parse_module
from aotc.passes.pass_base import ModulePass
from aotc.passes.dce import DeadCodeElimination
from aotc.passes.pipeline import PassPipelineError, Pipeline
from aotc.progress import STAGES, Progress, active, current, tracking
from conftest import EXAMPLES, run_aotc

MLP = [EXAMPLES / "mlp" / "graph.pb", EXAMPLES / "mlp" / "config.pbtxt"]
CLEAR = "\r\x1b[K"

# Runs the CLI with the progress line's delay and refresh at 0, so that a quick compile
# shows every update.
_CLI_NO_DELAY = ("import sys, aotc.progress as p; p.DEFAULT_DELAY = p.DEFAULT_REFRESH = 0; "
                 "from aotc.cli import main; sys.exit(main(sys.argv[1:]))")


def _run_on_pty(*args) -> tuple[int, str]:
    """Run the CLI (progress delay 0) with stderr on a pseudo-terminal; its exit status and
    everything written to the terminal."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", _CLI_NO_DELAY, *map(str, args)],
                            stdout=subprocess.PIPE, stderr=terminal, stdin=subprocess.DEVNULL)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    proc.stdout.close()
    os.close(controller)
    return proc.returncode, b"".join(chunks).decode()


def test_status_line_on_a_terminal(tmp_path):
    status, shown = _run_on_pty("compile", *MLP, "-o", tmp_path)
    assert status == 0
    assert CLEAR + "aotc: optimize: pass " in shown
    assert "kernels emitted" in shown
    assert shown.endswith(CLEAR)  # the line is erased when the compile ends


def test_quiet_silences_the_terminal(tmp_path):
    status, shown = _run_on_pty("compile", *MLP, "-o", tmp_path, "--quiet")
    assert status == 0
    assert shown == ""


def test_silent_when_stderr_is_not_a_terminal(tmp_path):
    proc = run_aotc("compile", *MLP, "-o", tmp_path, check=True)
    assert proc.stderr == ""


def test_report_gives_the_time_per_stage(tmp_path):
    proc = run_aotc("compile", *MLP, "-o", tmp_path, "--report", check=True)
    (line,) = [line for line in proc.stdout.splitlines() if line.lstrip().startswith("time:")]
    for stage in STAGES:
        assert f"{stage} " in line, stage
    seconds = [float(part.split()[-2]) for part in line.split("(")[1].rstrip(")").split(", ")]
    assert len(seconds) == len(STAGES) and all(s >= 0 for s in seconds)
    # each figure is rounded to 0.01 s
    assert float(line.split()[1]) == pytest.approx(sum(seconds), abs=0.01 * len(STAGES))


def test_progress_times_stages_and_draws_only_when_shown():
    stream = io.StringIO()
    progress = Progress(stream, show=True, delay=0, refresh=0)
    with tracking(progress):
        with current().stage("lower"):
            current().step("pass dce")
            current().emitted("parameter")  # not a kernel
            current().emitted("fusion")
    assert set(progress.stage_seconds) == {"lower"}
    assert stream.getvalue() == (CLEAR + "aotc: lower" + CLEAR + "aotc: lower: pass dce"
                                 + CLEAR + "aotc: lower: 1 kernels emitted" + CLEAR)
    hidden = io.StringIO()
    with tracking(Progress(hidden, show=False, delay=0, refresh=0)):
        with current().stage("lower"):
            current().step("pass dce")
    assert hidden.getvalue() == ""


def test_progress_waits_for_its_delay():
    stream = io.StringIO()
    progress = Progress(stream, show=True, delay=60)
    with progress.stage("lower"):
        progress.step("pass dce")
    progress.finish()
    assert stream.getvalue() == "" and progress.lines_drawn == 0


def test_no_compile_no_progress():
    """Passes and backends run alone (no compile tracking them) report into a silent
    Progress; a stage entered twice adds up its times, in first-entry order."""
    assert active() is None
    with current().stage("lower"):
        current().step("pass dce")
        current().emitted("fusion")
    progress = Progress(io.StringIO())
    for name in ("optimize", "buffers", "optimize"):
        with progress.stage(name):
            pass
    assert list(progress.stage_seconds) == ["optimize", "buffers"]
    assert all(seconds >= 0 for seconds in progress.stage_seconds.values())


def test_for_terminal_needs_a_tty():
    assert not Progress.for_terminal(stream=io.StringIO()).show


SMALL = """
HloModule m

ENTRY main {
  x = f32[2,3]{1,0} parameter(0)
  y = f32[2,3]{1,0} negate(x)
  a = f32[2,3]{1,0} add(x, x)
  ROOT t = (f32[2,3]{1,0}) tuple(a)
}
"""


class _BreakShapes(ModulePass):
    """A deliberately wrong pass: it gives the root's operand an impossible shape."""

    name = "break-shapes"

    def run(self, module):
        module.entry.root.operands[0].shape = Shape.array("f32", [7, 7])
        return True


@pytest.mark.parametrize("each_pass", ["1", "0"])
def test_pipeline_verifies_after_each_pass_or_at_the_end(monkeypatch, each_pass):
    monkeypatch.setenv("AOTC_VERIFY_PASSES", each_pass)
    pipeline = Pipeline("p", [_BreakShapes(), DeadCodeElimination()])
    with pytest.raises(PassPipelineError) as info:
        pipeline.run(parse_module(SMALL))
    if each_pass == "1":
        assert info.value.pass_name == "break-shapes"
    else:  # one verifier walk at the end: the error says how to name the pass
        assert info.value.pass_name is None
        assert "AOTC_VERIFY_PASSES=1" in str(info.value)


def test_commands_other_than_compile_load_no_llvm():
    code = ("import sys, io, contextlib; from aotc.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['ops'])\n"
            "print('llvmlite' in sys.modules, 'aotc.backends.cpu' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "False"]
