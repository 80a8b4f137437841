"""Writing compiler state to a dump directory (`--dump-hlo DIR`).

The pipeline writes the module after every pass through `dump_module`; the driver uses
`dump_text` for anything else it wants next to those files (the final module, the buffer
assignment report).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..hlo.ir import Module


def dump_text(dump_dir, filename: str, text: str) -> Path:
    """Write `text` to `dump_dir/filename` (creating the directory) and return the path."""
    directory = Path(dump_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_text(text if text.endswith("\n") else text + "\n")
    return path


def dump_filename_stem(index: int, label: str) -> str:
    """`NN-label`, with the label made safe for a file name (`03-constant-folding`)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label) or "pass"
    return f"{index:02d}-{safe}"


def dump_module(dump_dir, index: int, label: str, module: Module) -> list[Path]:
    """Write the module as HLO text (`NN-label.hlo`) and its entry computation as graphviz
    (`NN-label.dot`). Returns the paths written."""
    # Imported here so that passes which never dump do not depend on the printer.
    from ..hlo.graphviz import to_graphviz
    from ..hlo.printer import print_module

    stem = dump_filename_stem(index, label)
    return [
        dump_text(dump_dir, f"{stem}.hlo", print_module(module)),
        dump_text(dump_dir, f"{stem}.dot", to_graphviz(module.entry)),
    ]
