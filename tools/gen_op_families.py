#!/usr/bin/env python3
"""Regenerate frontend/ops/families.py: which family module registers each op's rule.

The frontend imports a family module only when a graph uses one of its ops
(hlo/registry.py's IndexedRegistry); this index says which. Run it after adding a
lowering rule or a family module (add a new one to FAMILIES there first;
tests/test_lowering_registry.py fails until then;
`--check` only compares):

    .venv/bin/python tools/gen_op_families.py
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADER = '''"""Which family module of this package registers each TF op's lowering rule (generated
by tools/gen_op_families.py; tests/test_lowering_registry.py checks it is current)."""

#: Every family module, imported in this order when the whole table is needed. Families
#: that others import come first: an op is indexed under the first family whose import
#: registers it, which is then the module that defines its rule.
FAMILIES = (
{family_lines})

#: TF op type -> the family module that registers its rule.
FAMILY_OF = {{
{entries}}}
'''


def current_index() -> dict[str, str]:
    """Import the family modules one by one and record which import registered each op's
    rule (a family importing another counts as registering the other's rules: importing
    it on demand registers them too)."""
    from aotc.frontend.ops import registry
    from aotc.frontend.ops.families import FAMILIES

    index: dict[str, str] = {}
    for family in FAMILIES:
        importlib.import_module(f"aotc.frontend.ops.{family}")
        for op in registry.LOWERINGS.registered() - index.keys():
            index[op] = family
    return index


def render(families: tuple[str, ...], index: dict[str, str]) -> str:
    entries = "".join(f"    {op!r}: {family!r},\n" for op, family in sorted(index.items()))
    family_lines = "".join(f"    {line}\n" for line in textwrap.wrap(
        " ".join(f"{family!r}," for family in families), 92))
    return HEADER.format(family_lines=family_lines, entries=entries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the committed index is not current (write nothing)")
    args = parser.parse_args()
    from aotc.frontend.ops.families import FAMILIES

    path = ROOT / "frontend" / "ops" / "families.py"
    text = render(FAMILIES, current_index())
    if args.check:
        if path.read_text() != text:
            print(f"{path} is stale: run tools/gen_op_families.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
