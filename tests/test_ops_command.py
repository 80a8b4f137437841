"""`aotc ops` lists the lowering registry, and docs/ops.md is that list, up to date."""

from __future__ import annotations

from aotc import op_catalog
from aotc.frontend.ops import supported_ops
from conftest import ROOT, run_aotc

DOC = ROOT / "docs/ops.md"


def test_ops_command_prints_every_registered_op_once_per_line():
    proc = run_aotc("ops", check=True)
    assert proc.stdout.splitlines() == supported_ops()
    assert {"Einsum", "Erfc", "IsNan", "CheckNumerics", "MatMul"} <= set(supported_ops())


def test_ops_command_markdown_is_the_committed_doc():
    proc = run_aotc("ops", "--markdown", check=True)
    assert proc.stdout == DOC.read_text(), (
        f"`aotc ops --markdown` differs from the committed docs/ops.md; regenerate it with "
        f"`{op_catalog.REGENERATE}`")
    assert proc.stdout.startswith("# Supported TensorFlow ops\n")


def test_docs_ops_md_matches_the_registry():
    expected = op_catalog.render_markdown(op_catalog.catalog())
    assert DOC.read_text() == expected, (
        f"docs/ops.md is out of date with the lowering registry; regenerate it with "
        f"`{op_catalog.REGENERATE}`")


def test_every_entry_names_the_file_of_its_rule():
    for entry in op_catalog.catalog():
        assert (ROOT / entry.source).is_file(), entry



# -- the tf2xla inference op set ----------------------------------------------------------------

#: Ops of the tf2xla inference set (340) with a lowering rule; raised as ops are added (the
#: goal is 95%, 323).
COVERAGE_FLOOR = 340


def test_target_set_is_the_shared_list_of_340_op_types():
    ops = op_catalog.target_ops()
    assert len(ops) == len(set(ops)) == 340
    assert {"MatMul", "Conv2D", "MatrixBandPart", "StatelessRandomUniformV2"} <= set(ops)


def test_tf2xla_inference_set_coverage_is_at_least_the_floor():
    missing = op_catalog.missing_ops(op_catalog.catalog())
    covered = len(op_catalog.target_ops()) - len(missing)
    assert covered >= COVERAGE_FLOOR, f"coverage fell to {covered}; missing: {missing}"


def test_ops_missing_lists_the_gap_and_the_fraction():
    proc = run_aotc("ops", "--missing", check=True)
    lines = proc.stdout.splitlines()
    missing = op_catalog.missing_ops(op_catalog.catalog())
    assert lines[:-1] == missing
    assert lines[-1].startswith(f"# {340 - len(missing)} of the 340 ops")
    assert not set(missing) & set(supported_ops())
