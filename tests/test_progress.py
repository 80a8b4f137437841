"""Compile progress (passes/progress.py): the one-line display a terminal gets, its
silence without a stream, stage timing, and `--report`'s time per stage from the CLI."""

from __future__ import annotations

import io

from aotc.passes import progress
from conftest import EXAMPLES, run_aotc


def test_progress_line_shows_stage_and_detail_then_clears():
    stream = io.StringIO()
    tracker = progress.Progress(stream, delay=0.0, interval=0.0)
    with progress.active(tracker):
        with progress.stage("optimize"):
            progress.detail("compile: pass simplify")
        with progress.stage("codegen"):
            progress.detail("kernel 3/7 fusion.2")
    text = stream.getvalue()
    assert "\raotc: optimize: compile: pass simplify (" in text
    assert "\raotc: codegen: kernel 3/7 fusion.2 (" in text
    assert text.endswith("\r\x1b[K")  # the line is cleared at the end
    assert list(tracker.stage_seconds) == ["optimize", "codegen"]
    assert all(seconds >= 0 for seconds in tracker.stage_seconds.values())


def test_silent_without_stream_or_before_the_delay():
    quiet = progress.Progress(None, delay=0.0)
    with progress.active(quiet), progress.stage("lower"):
        progress.detail("anything")
    assert "lower" in quiet.stage_seconds
    stream = io.StringIO()
    with progress.active(progress.Progress(stream, delay=3600.0)), progress.stage("lower"):
        progress.detail("anything")
    assert stream.getvalue() == ""
    progress.detail("no Progress installed: nothing happens")
    with progress.stage("no Progress installed"):
        pass


def test_report_gives_time_per_stage(tmp_path):
    done = run_aotc("compile", EXAMPLES / "matmul/graph.pbtxt", EXAMPLES / "matmul/config.pbtxt",
                    "--cpp_class", "foo::MatMul", "-o", tmp_path, "--report", "--quiet",
                    check=True)
    (line,) = [line for line in done.stdout.splitlines() if line.strip().startswith("time:")]
    for stage in ("import", "optimize", "buffers", "codegen", "write"):
        assert f"{stage} " in line
    assert "total" in line
    assert "\x1b[K" not in done.stderr  # not a terminal: no progress line
