"""The LLVM target: triple, CPU and features, and the TargetMachine that emits objects.

The host is the default. A cross triple without an explicit CPU gets LLVM's "generic" CPU,
so the object runs on every member of that architecture, plus the base features and ABI the
architecture's Linux distributions build everything with (`ARCH_DEFAULTS`): without them a
riscv64 object would be soft-float, which an lp64d toolchain refuses to link. Never ask LLVM
for cpu="native": llvmlite aborts the process on it; the host CPU is spelled out by name
instead.

User-given triples, CPUs and features are validated before any code is generated: LLVM
aborts the process on a malformed feature string and prints "LLVM ERROR" for some unknown
CPUs. The lists of CPUs and features a target knows are what LLVM prints for
cpu="help"; they are read once per architecture in a subprocess (the printing goes to the
process's stderr) and cached.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import llvmlite.binding as llvm
import llvmlite.ir as ir


@lru_cache(maxsize=None)
def _initialize() -> None:
    # llvmlite 0.50 initializes the core itself (llvm.initialize() raises); only the
    # targets and printers must be registered, all of them so any triple can be emitted.
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()


def default_triple() -> str:
    """The LLVM triple of the machine running the compiler."""
    _initialize()
    return llvm.get_process_triple()


def enabled_features(features: str) -> set[str]:
    """The features a comma-separated LLVM feature string leaves on (the last +x/-x wins)."""
    state: dict[str, bool] = {}
    for item in filter(None, (f.strip() for f in features.split(","))):
        state[item.lstrip("+-")] = not item.startswith("-")
    return {name for name, on in state.items() if on}


def _riscv_abi(prefix: str) -> Callable[[str], str]:
    """The hard-float calling convention the features allow: lp64d with D, lp64f with F."""
    def abi(features: str) -> str:
        enabled = enabled_features(features)
        return prefix + ("d" if "d" in enabled else "f" if "f" in enabled else "")
    return abi


@dataclass(frozen=True)
class ArchDefaults:
    """What a cross target of one architecture gets unless the user says otherwise."""

    features: str  # put before the user's --target_features (which may override them)
    abi: Callable[[str], str] = lambda features: ""  # LLVM's ABI name, from the features
    native_rounding: bool = False  # floor/ceil/trunc/roundeven are instructions


# Debian's (and Fedora's, Ubuntu's) baselines. riscv64: RV64GC with the lp64d ABI; LLVM's
# generic riscv64 is bare RV64I with the soft-float ABI. armv7: LLVM's generic ARMv7-A
# already has VFPv3 and NEON, and the gnueabihf triple selects the hard-float ABI.
ARCH_DEFAULTS: dict[str, ArchDefaults] = {
    "riscv64": ArchDefaults("+m,+a,+f,+d,+c", _riscv_abi("lp64"), native_rounding=True),
    "riscv32": ArchDefaults("+m,+a,+f,+d,+c", _riscv_abi("ilp32"), native_rounding=True),
    "aarch64": ArchDefaults("", native_rounding=True),
    "arm64": ArchDefaults("", native_rounding=True),
}


class TargetError(ValueError):
    """A triple, CPU or feature LLVM does not know; the message names the flag."""


#: Triples to suggest when LLVM knows none like the one given.
KNOWN_TRIPLES = ("x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu",
                 "armv7-unknown-linux-gnueabihf", "riscv64-unknown-linux-gnu",
                 "powerpc64le-unknown-linux-gnu", "s390x-unknown-linux-gnu",
                 "x86_64-apple-darwin", "arm64-apple-macosx", "x86_64-pc-windows-msvc",
                 "i686-unknown-linux-gnu", "wasm32-unknown-unknown")

_HELP_SCRIPT = """
import sys
import llvmlite.binding as llvm
llvm.initialize_all_targets()
llvm.initialize_all_asmprinters()
machine = llvm.Target.from_triple(sys.argv[1]).create_target_machine(cpu="help", reloc="pic")
module = llvm.parse_assembly("")
module.triple = sys.argv[1]
machine.emit_object(module)
"""


@lru_cache(maxsize=None)
def target_catalog(triple: str) -> tuple[frozenset[str], frozenset[str]]:
    """(CPU names, feature names) LLVM knows for `triple`'s architecture."""
    proc = subprocess.run([sys.executable, "-c", _HELP_SCRIPT, triple], capture_output=True,
                          text=True, timeout=120)
    cpus: set[str] = set()
    features: set[str] = set()
    section = None
    for line in proc.stderr.splitlines():
        if line.startswith("Available CPUs"):
            section = cpus
        elif line.startswith("Available features"):
            section = features
        elif section is not None and line.startswith("  ") and " - " in line:
            section.add(line.split(" - ", 1)[0].strip())
    return frozenset(cpus), frozenset(features)


def _hint(word: str, known) -> str:
    close = difflib.get_close_matches(word, sorted(known), n=4, cutoff=0.6)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def validate_target(triple: str | None, cpu: str | None, features: str | None) -> None:
    """Raise TargetError unless LLVM knows the (user-given) triple, CPU and features."""
    _initialize()
    if triple is not None:
        try:
            llvm.Target.from_triple(triple)
        except RuntimeError:
            hint = _hint(triple, KNOWN_TRIPLES) or f" (the host's is {llvm.get_process_triple()!r})"
            raise TargetError(f"--target_triple {triple!r}: LLVM has no target for this "
                              f"triple{hint}") from None
    if cpu in (None, "native") and not features:
        return
    cpus, known = target_catalog(triple or llvm.get_process_triple())
    arch = (triple or llvm.get_process_triple()).split("-")[0]
    if cpu not in (None, "native", "generic") and cpu not in cpus:
        raise TargetError(f"--target_cpu {cpu!r}: not a CPU LLVM knows for {arch}"
                          f"{_hint(cpu, cpus)}")
    for item in (features or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item[0] not in "+-":
            raise TargetError(f"--target_features {features!r}: {item!r} must start with "
                              f"'+' (enable) or '-' (disable), e.g. '+{item}'")
        if item[1:] not in known:
            raise TargetError(f"--target_features {features!r}: {item[1:]!r} is not a "
                              f"feature LLVM knows for {arch}{_hint(item[1:], known)}")


@dataclass(frozen=True)
class TargetInfo:
    """Where the code will run; what the emitter may assume about the instruction set."""

    triple: str
    cpu: str
    features: str
    abi: str = ""  # LLVM's target ABI name (riscv: lp64d, ...); "" for the triple's default

    @property
    def arch(self) -> str:
        return self.triple.split("-")[0]

    @property
    def has_native_rounding(self) -> bool:
        """Whether floor/ceil/trunc/roundeven are instructions (not libm calls)."""
        if self.arch in ARCH_DEFAULTS:
            return ARCH_DEFAULTS[self.arch].native_rounding
        if self.arch in ("x86_64", "i686", "i386"):
            return "+sse4.1" in self.features.split(",")
        return False

    @property
    def has_fma(self) -> bool:
        """Whether a fused multiply-add is an instruction (llvm.fma is otherwise a libm call)."""
        if self.arch in ("aarch64", "arm64", "nvptx64"):
            return True
        if self.arch.startswith("riscv"):
            return "f" in enabled_features(self.features)
        return self.arch == "x86_64" and "fma" in enabled_features(self.features)


def resolve_target(triple: str | None, cpu: str | None, features: str | None) -> TargetInfo:
    """Fill in the host's triple, CPU and features wherever the caller gave none; raise
    TargetError for any that LLVM does not know."""
    validate_target(triple, cpu, features)
    host = llvm.get_process_triple()
    triple = triple or host
    is_host = llvm.Target.from_triple(triple).name == llvm.Target.from_triple(host).name and (
        triple.split("-")[0] == host.split("-")[0])
    if cpu is None or cpu == "native":
        cpu = llvm.get_host_cpu_name() if is_host else "generic"
    if features is None:
        host_cpu = is_host and cpu == llvm.get_host_cpu_name()
        features = llvm.get_host_cpu_features().flatten() if host_cpu else ""
    defaults = ARCH_DEFAULTS.get(triple.split("-")[0])
    if defaults is None:
        return TargetInfo(triple, cpu, features)
    if not is_host:
        features = ",".join(filter(None, [defaults.features, features]))
    return TargetInfo(triple, cpu, features, defaults.abi(features))


def _machine_features(target: TargetInfo) -> str:
    """`target`'s features for LLVM's TargetMachine: on AVX-512 CPUs, minus the
    prefer-256-bit tuning (LLVM's default for them, which has its vectorizers use ymm
    registers) unless the features name it: the GEMM, convolution and depthwise kernels
    are 512-bit already, so the frequency argument for it is moot, and 512-bit loop
    fusions made the BERT-style encoder, the transformer block and MobileNetV2 at batch 8
    11-13% faster (identical results)."""
    features = target.features
    names = {f[1:] for f in features.split(",") if f}
    if target.arch == "x86_64" and "+avx512f" in features.split(",") \
            and "prefer-256-bit" not in names:
        features = ",".join(filter(None, [features, "-prefer-256-bit"]))
    return features


def create_target_machine(target: TargetInfo, opt_level: int = 3):
    """A TargetMachine emitting position-independent code for `target`."""
    _initialize()
    return llvm.Target.from_triple(target.triple).create_target_machine(
        cpu=target.cpu, features=_machine_features(target), opt=opt_level, reloc="pic",
        codemodel="default", abiname=target.abi)


def emit_data_object(target: TargetInfo, symbol: str, data: bytes) -> bytes:
    """A relocatable object for `target` that defines `symbol` as a const byte array holding
    `data`, or no symbol at all when `symbol` is "" (tfcompile's helper objects)."""
    module = ir.Module(name="aotc_data")
    module.triple = target.triple
    if symbol:
        array = ir.ArrayType(ir.IntType(8), len(data))
        var = ir.GlobalVariable(module, array, symbol)
        var.global_constant = True
        var.initializer = ir.Constant(array, bytearray(data))
        var.align = 1
    return create_target_machine(target).emit_object(llvm.parse_assembly(str(module)))
