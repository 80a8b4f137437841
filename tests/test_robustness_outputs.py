"""Nothing half-written: when any output cannot be written (a path under a file, a
directory that refuses new files, a full disk), the compile exits 1 with an error and
leaves none of its outputs, temporary files or directories it created behind."""

from __future__ import annotations

import errno
import pathlib
import tempfile

import pytest

from robustness import compile_files, config, new_graph, node, placeholder

#: tfcompile's output flags, each with the file name it writes in the tests.
OUTPUT_FLAGS = {"--out_header": "hdr/model.h", "--out_function_object": "obj/model.o",
                "--out_metadata_object": "meta/model_meta.o",
                "--out_constant_buffers_object": "const/model_const.o"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    g = new_graph()
    placeholder(g, "a", [2])
    node(g, "r", "Relu", ["a"])
    graph, cfg = root / "g.pb", root / "c.pb"
    graph.write_bytes(g.SerializeToString())
    cfg.write_bytes(config([("a", [2])], ["r"]).SerializeToString())
    return graph, cfg


def _flags(root: pathlib.Path, broken: str | None = None) -> list[str]:
    flags = []
    for flag, rel in OUTPUT_FLAGS.items():
        # A broken path lies under a regular file, so its directory cannot be made.
        path = root / "blocker" / rel if flag == broken else root / "outs" / rel
        flags += [flag, str(path)]
    return flags + ["--gen-test", "--gen-benchmark"]


def _leftovers(root: pathlib.Path) -> list[str]:
    """Everything under `root` but the inputs and the blocker file."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.name not in ("blocker", "g.pb", "c.pb"))


def _fails_cleanly(outcome, root: pathlib.Path, message: str) -> None:
    outcome.check_clean()
    assert outcome.status == 1, outcome.stderr
    assert message in outcome.stderr, outcome.stderr
    assert _leftovers(root) == [], "a failed compile left files behind"


def test_all_outputs_are_written_when_nothing_fails(tmp_path, inputs):
    outcome = compile_files(tmp_path, *inputs, *_flags(tmp_path))
    outcome.check_clean()
    assert outcome.status == 0, outcome.stderr
    for rel in OUTPUT_FLAGS.values():
        assert (tmp_path / "outs" / rel).stat().st_size > 0
    assert (tmp_path / "outs/hdr/aotc_runtime.h").is_file()
    assert not [p for p in tmp_path.rglob("*.tmp")]


@pytest.mark.parametrize("broken", [*OUTPUT_FLAGS, "-o"])
def test_an_unwritable_output_path_leaves_nothing(tmp_path, inputs, broken):
    (tmp_path / "blocker").write_text("a file where a directory is needed")
    flags = _flags(tmp_path, broken)
    if broken == "-o":  # after compile_files' own -o: the last one wins
        flags += ["-o", str(tmp_path / "blocker/out")]
    outcome = compile_files(tmp_path, *inputs, *flags)
    _fails_cleanly(outcome, tmp_path, "aotc: error:")


@pytest.mark.parametrize("failing_write", [0, 3, 5])  # of 6 files
def test_a_full_disk_leaves_nothing(tmp_path, inputs, monkeypatch, failing_write):
    writes = {"count": 0}
    real_write_bytes = pathlib.Path.write_bytes

    def write_bytes(self, data):  # the artifact's files in the staging directory
        writes["count"] += 1
        if writes["count"] > failing_write:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write_bytes(self, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", write_bytes)
    outcome = compile_files(tmp_path, *inputs, *_flags(tmp_path))
    _fails_cleanly(outcome, tmp_path, "No space left on device")


def test_a_directory_refusing_new_files_leaves_nothing(tmp_path, inputs, monkeypatch):
    # Root ignores file modes, so the refusal is injected where the writer asks for a file.
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and pathlib.Path(dir).name == "meta":
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    outcome = compile_files(tmp_path, *inputs, *_flags(tmp_path))
    _fails_cleanly(outcome, tmp_path, "Permission denied")
