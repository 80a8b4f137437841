"""Nothing half-written: a failure while writing any output leaves the file system as it was.

For every output flag (`-o`, `--out_header`, `--out_function_object`, `--out_metadata_object`,
`--out_constant_buffers_object`, `--gen-test`, `--gen-benchmark`, `--shared`) one of its
files is made to fail, in each of these ways:
- unwritable: a parent of the path is a regular file, or the path is a directory;
- disk full: os.write raises ENOSPC halfway through that file (in-process), or, for the
  shared library, the linker fails with "No space left on device";
- permission denied at the last step: the rename into place raises EACCES, after the
  files renamed before it, so the writer must undo them.
Every compile runs through the CLI's `main(argv)` in-process, asking for all outputs at once
(their requested paths under parent directories that do not exist yet), into a new or an
existing output directory (holding an unrelated file and a stale artifact). Each must exit 1
with an `aotc: error` line naming the failing path, and leave the tree exactly as it was
before: no output directory, requested file, created parent or temporary, and the unrelated
and stale files unchanged. Where the kernel lets us mount a tmpfs in a private mount
namespace, the same holds for a real read-only and a real full file system.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aotc.cli import main
from conftest import EXAMPLES, ROOT

GRAPH = EXAMPLES / "matmul/graph.pbtxt"
CONFIG = EXAMPLES / "matmul/config.pbtxt"
NAME = "graph"

# Requested paths, relative to the work directory; their parents do not exist beforehand.
REQUESTED = {
    "--out_header": "req/h/graph.h",
    "--out_function_object": "req/o/graph.o",
    "--out_metadata_object": "req/m/meta.o",
    "--out_constant_buffers_object": "req/c/consts.o",
}
IN_DIR = {"--gen-test": f"{NAME}_test.cc", "--gen-benchmark": f"{NAME}_benchmark.cc",
          "--shared": f"lib{NAME}.so"}
FLAGS = ["-o", *REQUESTED, *IN_DIR]


def _snapshot(root: Path) -> dict[str, object]:
    """Every path under `root` with its contents (None for a directory)."""
    tree: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            tree[os.path.relpath(os.path.join(dirpath, d), root)] = None
        for f in filenames:
            path = os.path.join(dirpath, f)
            tree[os.path.relpath(path, root)] = Path(path).read_bytes()
    return tree


def _existing_out_dir(out: Path) -> None:
    out.mkdir()
    (out / "keep.txt").write_text("not aotc's")
    (out / f"{NAME}.h").write_text("stale header")
    (out / f"{NAME}.o").write_bytes(b"stale object")


def _argv(work: Path, out: Path, requested: dict[str, Path], shared: bool) -> list[str]:
    argv = ["compile", str(GRAPH), str(CONFIG), "--name", NAME, "-o", str(out),
            "--gen-test", "--gen-benchmark"]
    for flag, path in requested.items():
        argv += [flag, str(path)]
    return argv + (["--shared"] if shared else [])


def _fails_cleanly(capsys, work: Path, argv: list[str], target: Path) -> str:
    before = _snapshot(work)
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("aotc: error")]
    assert len(lines) == 1 and str(target) in lines[0], err
    assert _snapshot(work) == before
    return err


def _case(tmp_path, flag: str, *, existing: bool):
    """Work directory, output directory, requested paths and the path that will fail."""
    work = tmp_path / "work"
    work.mkdir()
    out = work / "out"
    if existing:
        _existing_out_dir(out)
    requested = {f: work / p for f, p in REQUESTED.items()}
    if flag == "-o":
        target = out
    elif flag in REQUESTED:
        target = requested[flag]
    else:
        target = out / IN_DIR[flag]
    return work, out, requested, target


# ---------------------------------------------------------------------------------------
# Unwritable paths

@pytest.mark.parametrize("flag", FLAGS)
def test_unwritable_path(tmp_path, capsys, flag):
    """-o and the requested paths under a regular file; the directory's own files where a
    directory of that name exists (the rename into place fails after others succeeded)."""
    work, out, requested, target = _case(tmp_path, flag, existing=flag in IN_DIR)
    if flag in IN_DIR:
        target.mkdir()
        (target / "inside").write_text("x")
    else:
        (work / "blocker").write_text("a file, not a directory")
        target = work / "blocker" / "sub" / target.name
        if flag == "-o":
            out = target
        else:
            requested[flag] = target
    err = _fails_cleanly(capsys, work, _argv(work, out, requested, flag == "--shared"), target)
    assert ("Not a directory" in err) or ("Is a directory" in err), err


@pytest.mark.parametrize("flag", list(REQUESTED))
def test_requested_path_is_a_directory(tmp_path, capsys, flag):
    work, out, requested, target = _case(tmp_path, flag, existing=True)
    target.mkdir(parents=True)
    _fails_cleanly(capsys, work, _argv(work, out, requested, False), target)


def test_output_directory_is_a_file(tmp_path, capsys):
    work, out, requested, target = _case(tmp_path, "-o", existing=False)
    out.write_text("a file where the output directory should be")
    _fails_cleanly(capsys, work, _argv(work, out, requested, False), target)


# ---------------------------------------------------------------------------------------
# Disk full

def _fail_writes_to(monkeypatch, matches) -> list[str]:
    """os.write writes part of the first chunk to a file whose path `matches`, then raises
    ENOSPC, as a filling disk does; other files are written normally."""
    real_write = os.write
    hits: list[str] = []

    def write(fd, data):
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if path and matches(Path(path)):
            if not hits:
                hits.append(path)
                return real_write(fd, bytes(memoryview(data)[: max(1, len(data) // 2)]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    return hits


def _fake_full_linker(tmp_path, monkeypatch) -> None:
    """A `cc` first on PATH that writes half a library and fails like ld on a full disk."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    cc = bin_dir / "cc"
    cc.write_text(textwrap.dedent("""\
        #!/bin/sh
        while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done
        printf 'ELF half' > "$out"
        echo "ld: final link failed: No space left on device" >&2
        exit 1
    """))
    cc.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("existing", [False, True], ids=["new-dir", "existing-dir"])
@pytest.mark.parametrize("flag", FLAGS)
def test_disk_full(tmp_path, capsys, monkeypatch, flag, existing):
    work, out, requested, target = _case(tmp_path, flag, existing=existing)
    if flag == "--shared":
        _fake_full_linker(tmp_path, monkeypatch)
        hits = None
    elif flag in REQUESTED:  # its temporary file beside it: .<name>.XXXX.tmp
        hits = _fail_writes_to(monkeypatch, lambda p: p.parent == target.parent
                               and p.name.startswith(f".{target.name}."))
    else:  # a file in the temporary output directory (the header, the test, ...)
        name = f"{NAME}.o" if flag == "-o" else target.name
        hits = _fail_writes_to(monkeypatch, lambda p: p.name == name
                               and p.parent.name.startswith(f".{out.name}."))
    err = _fails_cleanly(capsys, work, _argv(work, out, requested, flag == "--shared"), target)
    assert "No space left on device" in err, err
    assert hits is None or len(hits) == 1, "the failure was not injected where intended"


# ---------------------------------------------------------------------------------------
# Permission denied while renaming into place: the renames before it are undone

def _deny_rename_onto(monkeypatch, target: Path) -> list[Path]:
    real_replace = os.replace
    denied: list[Path] = []

    def replace(src, dst, **kwargs):
        if Path(dst) == target and not denied:
            denied.append(Path(dst))
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dst))
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return denied


@pytest.mark.parametrize("flag, existing", [
    *[(flag, existing) for flag in ["-o", *REQUESTED] for existing in (False, True)],
    # A new output directory is renamed whole (the "-o" case); an existing one takes our
    # files one by one.
    *[(flag, True) for flag in IN_DIR]])
def test_permission_denied_at_rename(tmp_path, capsys, monkeypatch, flag, existing):
    work, out, requested, target = _case(tmp_path, flag, existing=existing)
    if flag == "-o" and existing:
        target = out / f"{NAME}.o"  # an existing directory takes our files one by one
    if existing:  # requested files that exist already must come back as they were
        for path in requested.values():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"previous " + path.name.encode())
    denied = _deny_rename_onto(monkeypatch, target)
    err = _fails_cleanly(capsys, work, _argv(work, out, requested, flag == "--shared"), target)
    assert "Permission denied" in err, err
    assert denied == [target]


def test_success_keeps_unrelated_files_and_replaces_stale_ones(tmp_path, capsys):
    work, out, requested, _ = _case(tmp_path, "-o", existing=True)
    assert main(_argv(work, out, requested, True)) == 0, capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "not aotc's"
    assert (out / f"{NAME}.h").read_text() != "stale header"
    assert (out / f"{NAME}.o").read_bytes().startswith(b"\x7fELF")
    for name in [*IN_DIR.values(), f"{NAME}.json", "aotc_runtime.h"]:
        assert (out / name).is_file()
    for path in requested.values():
        assert path.is_file() and path.stat().st_size > 0, path
    assert (requested["--out_header"].parent / "aotc_runtime.h").is_file()
    leftovers = [p for p in work.rglob(".*") if p.name.endswith((".tmp", ".bak"))]
    assert leftovers == []


# ---------------------------------------------------------------------------------------
# A real read-only and a real full file system (a tmpfs in a private mount namespace)

_IN_NAMESPACE = textwrap.dedent("""\
    import json, os, sys
    from pathlib import Path
    from aotc.cli import main
    mnt, graph, config = sys.argv[1:4]
    def tree(root):
        return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*"))
    results = {}
    for case in ("readonly", "full"):
        before = tree(mnt)
        status = main(["compile", graph, config, "--name", "graph", "-o", f"{mnt}/out",
                       "--out_header", f"{mnt}/req/h/graph.h", "--gen-test"])
        results[case] = {"status": status, "before": before, "after": tree(mnt)}
        if case == "readonly":
            os.system(f"mount -o remount,rw {mnt}")
            # Fill the disk, leaving a few KiB: enough for directories, not the object.
            with open(f"{mnt}/filler", "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\\0" * 4096)
                except OSError:
                    pass
            os.truncate(f"{mnt}/filler", os.path.getsize(f"{mnt}/filler") - 8192)
    print(json.dumps(results))
""")


def _can_mount() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    proc = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                          capture_output=True)
    return proc.returncode == 0


@pytest.mark.skipif(not _can_mount(), reason="needs mount namespaces (unshare -m, tmpfs)")
def test_real_read_only_and_full_file_systems(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = tmp_path / "cases.py"
    script.write_text(_IN_NAMESPACE)
    shell = (f"mount -t tmpfs -o size=512k tmpfs {mnt} && mkdir {mnt}/keep && "
             f"mount -o remount,ro {mnt} && exec {sys.executable} {script} {mnt} {GRAPH} {CONFIG}")
    proc = subprocess.run(["unshare", "-m", "sh", "-c", shell], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.splitlines()[-1])
    errors = [line for line in proc.stderr.splitlines() if line.startswith("aotc: error")]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(errors) == 2, proc.stderr
    assert "Read-only file system" in errors[0] and str(mnt) in errors[0], errors
    assert "No space left on device" in errors[1] and str(mnt) in errors[1], errors
    for case, result in results.items():
        assert result["status"] == 1, case
        assert result["after"] == result["before"], case
