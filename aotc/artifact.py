"""Writing an artifact: header, metadata, runtime header, code, optional test/benchmark/.so,
and tfcompile's output paths.

`write_artifact` is the last stage of the pipeline, and it is atomic: every file is first
rendered in memory, then written next to its destination (the artifact's files into a
temporary sibling of the output directory, each tfcompile output path into a temporary file
beside it), and only when all of them were written are they renamed into place, as one
transaction (aotc/staging.py): a failure at any point, the renames included, leaves every
destination as it was and removes every temporary and every directory it created. An
OSError leaves as a `WriteError` naming the path it was writing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

from aotc.runtime.program import Program

from .render import RUNTIME_HEADER, render_benchmark, render_header, render_test
from .staging import Staging, WriteError, write_file, writing

__all__ = ["Artifact", "OutputRequests", "RUNTIME_HEADER", "WriteError", "write_artifact"]


@dataclass(frozen=True)
class OutputRequests:
    """tfcompile's output flags: exact paths where a build rule wants files as well.

    `header` gets `<name>.h` (and `aotc_runtime.h` beside it, which the header includes),
    `function_object` the object file, `metadata_object` an object holding the metadata
    JSON as data (symbol `<entry>_metadata_json`), `constant_buffers_object` an object with
    no symbols (aotc keeps constants in the function object).
    """

    header: str = ""
    function_object: str = ""
    metadata_object: str = ""
    constant_buffers_object: str = ""


@dataclass
class Artifact:
    """The files of one written artifact."""

    out_dir: Path
    program: Program
    files: dict[str, Path] = field(default_factory=dict)  # file name (or requested path) -> path

    @property
    def header(self) -> Path:
        return self.files[f"{self.program.name}.h"]

    @property
    def metadata(self) -> Path:
        return self.files[f"{self.program.name}.json"]

    def load(self):
        """Load the artifact with the Python runtime (see aotc.runtime.loader)."""
        from aotc.runtime.loader import load

        return load(self.metadata)


def write_artifact(
    program: Program,
    out_dir,
    code: dict[str, bytes],
    *,
    gen_test: bool = False,
    gen_benchmark: bool = False,
    shared: bool = False,
    cc: str = "cc",
    requests: OutputRequests = OutputRequests(),
    data_object: Callable[[str, bytes], bytes] | None = None,
) -> Artifact:
    """Write the artifact for `program` into `out_dir` and return its file list.

    Writes `<name>.h`, `<name>.json`, `aotc_runtime.h` and the `code` files (name ->
    bytes, e.g. {"matmul.o": ...}); with `gen_test`/`gen_benchmark` also
    `<name>_test.cc`/`<name>_benchmark.cc`, with `shared` `lib<name>.so` linked from
    the `.o` files in `code` with `cc -shared`, and the `requests` (tfcompile's output
    paths; `data_object(symbol, data)` builds their helper objects for the target).

    If `out_dir` does not exist it appears complete or not at all; if it exists, other
    files in it are kept and ours are replaced, all of them or (on an error) none.
    Raises `WriteError` (naming the path) when a file cannot be written.
    """
    out_dir = Path(out_dir)
    files = _files_to_write(program, code, gen_test, gen_benchmark)
    objects = [n for n in files if n.endswith(".o")]
    if shared and not objects:
        raise ValueError("shared=True needs an object file (.o) among the code files")
    placed = _requested_files(program, files, out_dir, requests, data_object)

    staging = Staging()
    try:
        tmp = staging.directory_beside(out_dir)
        for file_name, data in files.items():
            with writing(out_dir / file_name):
                write_file(tmp / file_name, data)
        if shared:
            lib = f"lib{program.name}.so"
            _link_shared(cc, [tmp / n for n in objects], tmp / lib, out_dir / lib)
            files[lib] = b""
        for path, data in placed.items():
            staging.file_beside(path, data)
        staging.commit()
    finally:
        staging.discard()
    written = {n: out_dir / n for n in files}
    written.update({str(path): path for path in placed})
    return Artifact(out_dir, program, written)


def _files_to_write(program: Program, code: dict[str, bytes], gen_test: bool,
                    gen_benchmark: bool) -> dict[str, bytes]:
    base = program.name
    files = {
        f"{base}.h": render_header(program).encode(),
        f"{base}.json": program.to_json().encode(),
        RUNTIME_HEADER: resources.files("aotc.runtime").joinpath(RUNTIME_HEADER).read_bytes(),
    }
    if gen_test:
        files[f"{base}_test.cc"] = render_test(program).encode()
    if gen_benchmark:
        files[f"{base}_benchmark.cc"] = render_benchmark(program).encode()
    for file_name, data in code.items():
        if os.path.basename(file_name) != file_name or file_name in ("", ".", "..") or "\\" in file_name:
            raise ValueError(f"code file name {file_name!r} must be a plain file name")
        if file_name in files:
            raise ValueError(f"code file {file_name!r} clashes with a generated file")
        files[file_name] = bytes(data)
    return files


def _requested_files(program: Program, files: dict[str, bytes], out_dir: Path,
                     requests: OutputRequests, data_object) -> dict[Path, bytes]:
    """tfcompile's output paths -> contents, leaving out those that are artifact files."""
    wanted: list[tuple[str, bytes]] = []
    if requests.header:
        wanted.append((requests.header, files[f"{program.name}.h"]))
        wanted.append((str(Path(requests.header).parent / RUNTIME_HEADER), files[RUNTIME_HEADER]))
    if requests.function_object:
        wanted.append((requests.function_object, files[f"{program.name}.o"]))
    if requests.metadata_object or requests.constant_buffers_object:
        if data_object is None:
            raise ValueError("helper objects were requested but no data_object builder given")
        if requests.metadata_object:
            metadata = files[f"{program.name}.json"] + b"\0"
            wanted.append((requests.metadata_object,
                           data_object(f"{program.entry_symbol}_metadata_json", metadata)))
        if requests.constant_buffers_object:
            wanted.append((requests.constant_buffers_object, data_object("", b"")))
    own = {(out_dir / n).resolve() for n in files}
    placed: dict[Path, bytes] = {}
    for target, data in wanted:
        path = Path(target)
        if path.resolve() not in own:
            placed[path] = data
    return placed


def _link_shared(cc: str, objects: list[Path], output: Path, destination: Path) -> None:
    """Link `objects` into the shared library `output` (a temporary name of `destination`)."""
    if shutil.which(cc) is None:
        raise RuntimeError(f"cannot build {destination}: C compiler {cc!r} not found")
    cmd = [cc, "-shared", "-o", str(output), *map(str, objects)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"cannot build {destination}: linking failed ({' '.join(cmd)}):\n"
                           f"{proc.stderr}")
