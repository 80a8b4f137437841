"""The TensorFlow ops aotc can compile, read from the lowering registry.

`aotc ops` prints the list and `aotc ops --markdown` writes docs/ops.md; the registry in
frontend/ops is the only source, so the list is never out of date with the compiler (and
tests/test_ops_command.py checks that the committed docs/ops.md is not either).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

#: How docs/ops.md is produced; printed at the top of the file.
REGENERATE = "aotc ops --markdown > docs/ops.md"


@dataclass(frozen=True)
class OpEntry:
    """One supported TF op type and where its lowering rule lives."""

    op: str
    family: str  # the rule's module under frontend/ops, e.g. "math"

    @property
    def source(self) -> str:
        return f"frontend/ops/{self.family.replace('.', '/')}.py"


def catalog() -> list[OpEntry]:
    """Every op type with a lowering rule, sorted by name."""
    from aotc.frontend.ops import LOWERINGS, supported_ops

    package = "aotc.frontend.ops."
    return [OpEntry(op, LOWERINGS[op].__module__.removeprefix(package)) for op in supported_ops()]


#: The tf2xla inference op set (frontend/ops/tf2xla_inference_ops.txt): the op types
#: TensorFlow's XLA registers for CPU, less training, TPU, stateful-RNG and internal ops.
TARGET_SET = "tf2xla_inference_ops.txt"


def target_ops() -> list[str]:
    """The tf2xla inference op set, read from the package data (no TensorFlow needed)."""
    text = resources.files("aotc.frontend.ops").joinpath(TARGET_SET).read_text()
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.startswith("#")]


def missing_ops(entries: list[OpEntry]) -> list[str]:
    """The ops of the tf2xla inference set that have no lowering rule, sorted."""
    have = {e.op for e in entries}
    return sorted(set(target_ops()) - have)


def render_missing(entries: list[OpEntry]) -> str:
    """The missing ops, one per line, then a coverage summary line."""
    target = set(target_ops())
    missing = missing_ops(entries)
    covered = len(target) - len(missing)
    return "".join(f"{op}\n" for op in missing) + (
        f"# {covered} of the {len(target)} ops of the tf2xla inference set are covered "
        f"({100 * covered / len(target):.0f}%); {len(missing)} are missing\n")


def render_text(entries: list[OpEntry]) -> str:
    """One op type per line."""
    return "".join(f"{e.op}\n" for e in entries)


def render_markdown(entries: list[OpEntry]) -> str:
    """docs/ops.md: a summary per family, then every op with the file of its rule."""
    families: dict[str, list[str]] = {}
    for e in entries:
        families.setdefault(e.family, []).append(e.op)
    lines = [
        "# Supported TensorFlow ops",
        "",
        f"<!-- Generated from the lowering registry by `{REGENERATE}`; do not edit.",
        "     tests/test_ops_command.py fails when this file and the registry disagree. -->",
        "",
        f"aotc lowers {len(entries)} TensorFlow op types to HLO, each with one rule in "
        "`frontend/ops/`. A graph that uses any other op fails to compile with one message "
        "listing every unsupported op type and the nodes that use it.",
        "",
        "| family | op types |",
        "|---|---|",
    ]
    lines += [f"| [{name}](../{OpEntry(ops[0], name).source}) | {len(ops)} |"
              for name, ops in sorted(families.items())]
    lines += ["", "| op | rule |", "|---|---|"]
    lines += [f"| `{e.op}` | [{e.family}](../{e.source}) |" for e in entries]
    return "\n".join(lines) + "\n"
