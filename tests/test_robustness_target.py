"""Target flags are checked against what LLVM knows before any code is generated: an
unknown triple, CPU or feature is an error naming the flag, with close matches."""

from __future__ import annotations

import pytest

from aotc.backends.cpu.target import TargetError, resolve_target, target_catalog

X86 = "x86_64-unknown-linux-gnu"


@pytest.mark.parametrize("triple, cpu, features, message", [
    ("foo-bar-baz", None, None, "--target_triple 'foo-bar-baz': LLVM has no target for this "
                                "triple (the host's is"),
    ("aarch46-unknown-linux-gnu", None, None, "did you mean 'aarch64-unknown-linux-gnu'"),
    (X86, "nosuchcpu", None, "--target_cpu 'nosuchcpu': not a CPU LLVM knows for x86_64"),
    (X86, "skylakx", None, "did you mean 'skylake'"),
    (X86, None, "garbage", "--target_features 'garbage': 'garbage' must start with '+' "
                           "(enable) or '-' (disable)"),
    (X86, None, "+avx2,+avx3", "'avx3' is not a feature LLVM knows for x86_64; did you mean "
                               "'avx', 'avx2'"),
    ("aarch64-unknown-linux-gnu", "skylake", None, "not a CPU LLVM knows for aarch64"),
])
def test_unknown_target_is_an_error_naming_the_flag(triple, cpu, features, message):
    with pytest.raises(TargetError) as info:
        resolve_target(triple, cpu, features)
    assert message in str(info.value)


def test_known_targets_resolve():
    assert resolve_target(X86, "skylake", "+avx2,-fma").cpu == "skylake"
    assert resolve_target("aarch64-unknown-linux-gnu", "cortex-a72", "+neon").features == "+neon"
    cpus, features = target_catalog("riscv64-unknown-linux-gnu")
    assert "generic-rv64" in cpus and "m" in features


@pytest.mark.parametrize("flags, message", [
    (["--target_features", "garbage"], "aotc: error: --target_features 'garbage': 'garbage' "
                                       "must start with '+'"),
    (["--target_cpu", "nosuchcpu"], "aotc: error: --target_cpu 'nosuchcpu': not a CPU"),
    (["--target_triple", "foo-bar-baz"], "aotc: error: --target_triple 'foo-bar-baz'"),
])
def test_cli_reports_bad_target_flags(tmp_path, flags, message):
    from robustness import compile_protos, config, new_graph, node, placeholder

    g = new_graph()
    placeholder(g, "a", [2])
    node(g, "r", "Relu", ["a"])
    outcome = compile_protos(tmp_path, g, config([("a", [2])], ["r"]), *flags)
    outcome.check_clean()
    assert outcome.status == 1 and message in outcome.stderr
