"""The lowering table imports op families on demand (hlo/registry.py's IndexedRegistry,
frontend/ops/families.py): the index is current, covers every rule, and a compile
imports only the families its graph uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str) -> str:
    """Run `code` in a fresh interpreter (this one has imported every family already)."""
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                          text=True, cwd=ROOT).stdout


def test_index_is_current():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_op_families.py"),
                           "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_every_module_of_the_package_registers_only_indexed_ops():
    """Importing every module of frontend/ops, listed as a family or not, registers no
    rule the index lacks (a rule in a module missing from FAMILIES would be unreachable)."""
    out = _python(
        "import importlib, pkgutil\n"
        "import aotc.frontend.ops as ops\n"
        "from aotc.frontend.ops.families import FAMILY_OF\n"
        "for m in pkgutil.iter_modules(ops.__path__):\n"
        "    importlib.import_module('aotc.frontend.ops.' + m.name)\n"
        "print(sorted(ops.LOWERINGS.registered() ^ set(FAMILY_OF)))\n"
        "print(sorted(op for op, family in FAMILY_OF.items()\n"
        "             if ops.LOWERINGS[op].__module__ != 'aotc.frontend.ops.' + family))\n")
    unindexed, misplaced = out.splitlines()
    assert unindexed == "[]"
    # Each op is indexed under the module that defines its rule, so a lookup imports no
    # family the op does not need (FAMILIES lists the families others import first).
    assert misplaced == "[]"


def test_lookup_imports_only_the_family_of_the_op():
    out = _python(
        "import sys\n"
        "from aotc.frontend.ops import LOWERINGS\n"
        "fam = lambda: sorted(m for m in sys.modules if m.startswith('aotc.frontend.ops.')"
        " and m.split('.')[-1] not in ('registry', 'families'))\n"
        "before = fam()\n"
        "assert 'Conv2D' in LOWERINGS and 'Nope' not in LOWERINGS\n"
        "assert fam() == before, fam()\n"
        "rule = LOWERINGS['Conv2D']\n"
        "print(rule.__module__, 'aotc.frontend.ops.conv' in sys.modules,"
        " 'aotc.frontend.ops.image' in sys.modules)\n"
        "print(len(LOWERINGS) > 300, 'aotc.frontend.ops.image' in sys.modules)\n")
    first, second = out.splitlines()
    assert first.split()[1:] == ["True", "False"]
    assert second.split() == ["True", "True"]  # iterating or sizing loads every family
