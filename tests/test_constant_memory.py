"""Big constants reach the object without LLVM IR text or Python copies (issue 11, item 8).

- Peak memory: in a child process, compiling `y = x + c` with a 16 MB float32 constant
  takes at most 6x the constant's bytes more peak RSS than with a tiny constant, for the
  host, aarch64 Linux, arm64 macOS and x86_64 Windows (VmHWM, reset between compiles
  through /proc/self/clear_refs). `benchmarks/constant_memory.py` measures it at 100 MB.
- Correctness: constants of 64 KiB and more live in a section appended to LLVM's object
  (backends/cpu/object_data/: ELF, 64-bit Mach-O, COFF); a graph with two such constants
  gives the right answer from Python and, cross-compiled for aarch64, under qemu; the
  symbols are defined, local to the object (hidden), and unreferenced blobs are left out.
- Mach-O and COFF objects are checked with tools that do not share aotc's code: LLVM's
  llvm-readobj (section, symbols, LC_DYSYMTAB grouping, relocations, the bytes at each
  symbol), ld64.lld (a macOS dylib links and its symbols hold the constants), lld-link
  (an MSVC DLL links) and MinGW-w64 (a Windows executable links and, under wine, gives
  the right answer). .ci/run installs them; a test skips naming the one that is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import aotc
from aotc.frontend.proto import aotc_graph_pb2
from aotc.backends.cpu.object_data import (CoffData, ElfData, MachOData, for_target,
                                           object_format)
from conftest import ROOT

MB = 1 << 20
TRIPLES = ["host", "aarch64-unknown-linux-gnu", "arm64-apple-macosx11.0", "x86_64-pc-windows-msvc"]


def _const(graph, name: str, values: np.ndarray) -> None:
    node = graph.node.add(name=name, op="Const")
    node.attr["dtype"].type = 1  # DT_FLOAT
    tensor = node.attr["value"].tensor
    tensor.dtype = 1
    tensor.tensor_shape.dim.add(size=values.size)
    tensor.tensor_content = values.astype(np.float32).tobytes()


def write_graph(directory: Path, constants: list[np.ndarray]) -> tuple[Path, Path]:
    """y = ((x + c0) * c1) + ... over float32[n] constants (alternating add and mul)."""
    n = constants[0].size
    graph = aotc_graph_pb2.GraphDef()
    x = graph.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = 1
    value = "x"
    for i, c in enumerate(constants):
        _const(graph, f"c{i}", c)
        node = graph.node.add(name=f"y{i}", op="AddV2" if i % 2 == 0 else "Mul",
                              input=[value, f"c{i}"])
        node.attr["T"].type = 1
        value = node.name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "graph.pb").write_bytes(graph.SerializeToString())
    (directory / "config.pbtxt").write_text(
        f'feed {{ id {{ node_name: "x" }} shape {{ dim {{ size: {n} }} }} name: "x" }}\n'
        f'fetch {{ id {{ node_name: "{value}" }} name: "y" }}\n')
    return directory / "graph.pb", directory / "config.pbtxt"


_CHILD = """
import json, sys
from aotc.cli import main

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

def compile_peak(graph, config, out, triple):
    open("/proc/self/clear_refs", "w").write("5")  # the peak starts again from now
    argv = ["compile", graph, config, "-o", out, "--name", "big"]
    assert main(argv + ([] if triple == "host" else ["--target_triple", triple])) == 0
    return peak_kib() * 1024

tiny, big, out, triples = sys.argv[1:3], sys.argv[3:5], sys.argv[5], sys.argv[6:]
compile_peak(*tiny, out + "/warm", "host")  # imports and caches, outside the figures
print(json.dumps({t: [compile_peak(*tiny, out + "/tiny", t), compile_peak(*big, out + "/big", t)]
                  for t in triples}))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_peak_memory_above_a_tiny_compile_is_at_most_6x_the_constant(tmp_path):
    nbytes = 16 * MB
    tiny = write_graph(tmp_path / "tiny", [np.arange(16, dtype=np.float32)])
    big = write_graph(tmp_path / "big", [np.arange(nbytes // 4, dtype=np.float32)])
    proc = subprocess.run([sys.executable, "-c", _CHILD, *map(str, (*tiny, *big, tmp_path)),
                           *TRIPLES], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    peaks = json.loads(proc.stdout.splitlines()[-1])
    for triple, (tiny_peak, big_peak) in peaks.items():
        ratio = (big_peak - tiny_peak) / nbytes
        assert ratio <= 6, f"{triple}: {ratio:.1f}x the constant's bytes"


@pytest.fixture(scope="module")
def two_big_constants(tmp_path_factory):
    work = tmp_path_factory.mktemp("big_constants")
    rng = np.random.default_rng(0)
    n = 40_000  # 160 KB each: above object_data.MIN_BYTES
    constants = [rng.standard_normal(n).astype(np.float32) for _ in range(2)]
    graph, config = write_graph(work, constants)
    out = work / "out"
    aotc.compile(str(graph), str(config), out, name="big", cpp_class="Big")
    x = rng.standard_normal(n).astype(np.float32)
    return work, graph, config, out, constants, x, (x + constants[0]) * constants[1]


def test_big_constants_are_placed_beside_the_code(two_big_constants):
    _, _, _, out, constants, x, expected = two_big_constants
    np.testing.assert_array_equal(aotc.load(out)(x), expected)
    if shutil.which("readelf") is None:
        return
    symbols = subprocess.run(["readelf", "-sW", str(out / "big.o")], capture_output=True,
                             text=True, check=True).stdout
    placed = [line.split() for line in symbols.splitlines() if ".constant." in line]
    assert len(placed) == 2, symbols
    for fields in placed:  # Num: Value Size Type Bind Vis Ndx Name
        assert int(fields[2], 0) == constants[0].nbytes and fields[3] == "OBJECT", fields
        assert fields[5] == "HIDDEN" and fields[6] != "UND", fields
    sections = subprocess.run(["readelf", "-SW", str(out / "big.o")], capture_output=True,
                              text=True, check=True).stdout
    assert ".rodata.aotc" in sections
    relocations = subprocess.run(["readelf", "-rW", str(out / "big.o")], capture_output=True,
                                 text=True, check=True).stdout
    to_constants = [line for line in relocations.splitlines() if ".constant." in line]
    assert to_constants and not any("GOT" in line for line in to_constants), relocations


CROSS_MAIN = r"""
#include <cstdio>
#include <fstream>
#include <vector>
#include "big.h"
int main(int argc, char** argv) {
  Big model;
  std::ifstream(argv[1], std::ios::binary).read(static_cast<char*>(model.arg_data(0)),
                                                 static_cast<std::streamsize>(model.ArgSize(0)));
  if (!model.Run()) return 1;
  std::ofstream(argv[2], std::ios::binary).write(static_cast<const char*>(model.result_data(0)),
                                                 static_cast<std::streamsize>(model.ResultSize(0)));
  return 0;
}
"""


@pytest.mark.skipif(not (shutil.which("aarch64-linux-gnu-g++") and shutil.which("qemu-aarch64")),
                    reason="needs aarch64-linux-gnu-g++ and qemu-aarch64")
def test_big_constants_on_aarch64_under_qemu(two_big_constants):
    work, graph, config, _, _, x, expected = two_big_constants
    out = work / "aarch64"
    aotc.compile(str(graph), str(config), out, name="big", cpp_class="Big",
                 target_triple="aarch64-unknown-linux-gnu")
    (work / "main.cc").write_text(CROSS_MAIN)
    exe = work / "big_aarch64"
    subprocess.run(["aarch64-linux-gnu-g++", "-std=c++17", "-O1", "-static", f"-I{out}",
                    str(work / "main.cc"), str(out / "big.o"), "-o", str(exe)], check=True)
    (work / "x.bin").write_bytes(x.tobytes())
    subprocess.run(["qemu-aarch64", str(exe), str(work / "x.bin"), str(work / "y.bin")],
                   check=True, timeout=60)
    np.testing.assert_array_equal(np.fromfile(work / "y.bin", np.float32), expected)


def test_unreferenced_blobs_are_left_out_and_other_formats_are_not_rewritten():
    data = ElfData("e")
    assert data.attach(b"not even an object") == b"not even an object"  # nothing to add
    assert data.add(memoryview(b"x" * 8)) == "e.constant.0"
    with pytest.raises(ValueError, match="not ELF"):
        data.attach(b"\xcf\xfa\xed\xfe" + b"\0" * 60)
    for writer in (MachOData("e"), CoffData("e")):
        writer.add(memoryview(b"x" * 8))
        with pytest.raises(ValueError, match="not"):
            writer.attach(b"\x7fELF" + b"\0" * 60)
    assert object_format("x86_64-unknown-linux-gnu") == "elf"
    assert object_format("aarch64-none-elf") == "elf"
    assert object_format("arm64-apple-darwin23.0.0") == "macho"
    assert object_format("x86_64-pc-windows-msvc") == "coff"
    # Which triples get a writer: 32-bit Mach-O and wasm keep their constants in the IR.
    writers = {t: type(for_target(t, "e")).__name__ for t in (
        "x86_64-unknown-linux-gnu", "arm64-apple-macosx11.0", "x86_64-apple-macosx11.0",
        "x86_64-pc-windows-msvc", "x86_64-w64-windows-gnu", "aarch64-pc-windows-msvc",
        "i386-apple-macosx10.7", "armv7k-apple-watchos", "wasm32-unknown-unknown")}
    assert writers == {
        "x86_64-unknown-linux-gnu": "ElfData", "arm64-apple-macosx11.0": "MachOData",
        "x86_64-apple-macosx11.0": "MachOData", "x86_64-pc-windows-msvc": "CoffData",
        "x86_64-w64-windows-gnu": "CoffData", "aarch64-pc-windows-msvc": "CoffData",
        "i386-apple-macosx10.7": "NoneType", "armv7k-apple-watchos": "NoneType",
        "wasm32-unknown-unknown": "NoneType"}


# -- Mach-O and COFF, checked with independent tools ----------------------------------------

MACHO = ["x86_64-apple-macosx11.0", "arm64-apple-macosx11.0"]
COFF = ["x86_64-pc-windows-msvc", "x86_64-w64-windows-gnu"]


def tool(*names: str) -> str | None:
    """The first of `names` on PATH (or an absolute path that exists), else None."""
    for name in names:
        found = shutil.which(name) or (name if os.path.isabs(name) and os.path.exists(name)
                                       else None)
        if found:
            return found
    return None


READOBJ = tool("llvm-readobj", "llvm-readobj-14", "llvm-readobj-15", "llvm-readobj-16")
LD64 = tool("ld64.lld", "ld64.lld-14", "ld64.lld-15", "ld64.lld-16")
LLD_LINK = tool("lld-link", "lld-link-14", "lld-link-15", "lld-link-16")
LLVM_MC = tool("llvm-mc", "llvm-mc-14", "llvm-mc-15", "llvm-mc-16")
MINGW = tool("x86_64-w64-mingw32-gcc")
WINE = tool("wine64", "wine", "/usr/lib/wine/wine64")
needs_readobj = pytest.mark.skipif(READOBJ is None, reason="needs llvm-readobj (apt llvm)")


def readobj(path: Path, *flags: str) -> dict[str, list[dict]]:
    """llvm-readobj's Section, Symbol and Dysymtab blocks of `path` as dicts ("Key: value"
    lines; lone words such as PrivateExtern map to True), and its relocation lines."""
    text = subprocess.run([READOBJ, *flags, str(path)], capture_output=True, text=True,
                          check=True).stdout
    blocks: dict[str, list[dict]] = {"Section": [], "Symbol": [], "Dysymtab": [],
                                     "Relocation": []}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped in ("Section {", "Symbol {", "Dysymtab {"):
            current = {}
            blocks[stripped[:-2]].append(current)
        elif current is not None and line.startswith(("  }", "}")) and len(line) - len(
                line.lstrip()) <= 2:
            current = None
        elif current is not None and re.fullmatch(r"\w+ \[ \(0x[0-9A-F]+\)", stripped):
            key, value = stripped.split(" [ (")  # a flags field: its value in hex
            current.setdefault(key, value[:-1])
        elif current is not None and ": " in stripped:
            key, value = stripped.split(": ", 1)
            current.setdefault(key, value)
        elif current is not None and re.fullmatch(r"\w+", stripped):
            current[stripped] = True
        if re.match(r"\s*0x[0-9A-F]+ .*(RELOC|IMAGE_REL)", line):
            blocks["Relocation"].append({"line": stripped})
    return blocks


@pytest.fixture(scope="module")
def foreign(two_big_constants):
    """The two-constant graph compiled for each Mach-O and COFF triple: triple -> dir."""
    work, graph, config = two_big_constants[:3]
    outs = {}
    for triple in MACHO + COFF:
        outs[triple] = work / triple
        aotc.compile(str(graph), str(config), outs[triple], name="big", cpp_class="Big",
                     target_triple=triple)
    return outs


def _bytes_at(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


@needs_readobj
@pytest.mark.parametrize("triple", MACHO)
def test_macho_object_is_well_formed(foreign, two_big_constants, triple):
    constants = two_big_constants[4]
    obj = foreign[triple] / "big.o"
    info = readobj(obj, "--sections", "--symbols", "--relocations", "--macho-dysymtab")
    (section,) = [s for s in info["Section"] if s["Name"].startswith("__aotc_const ")]
    assert section["Segment"].startswith("__TEXT ") and section["Alignment"] == "6"
    ordinal = [s["Name"].split()[0] for s in info["Section"]].index("__aotc_const") + 1
    symbols = {s["Name"].split()[0]: s for s in info["Symbol"]}
    for k, c in enumerate(constants):
        symbol = symbols[f"_big_entry.constant.{k}"]
        # Private extern: bound within the image, never exported.
        assert symbol.get("PrivateExtern") and symbol.get("Extern"), symbol
        assert symbol["Type"] == "Section (0xE)", symbol
        assert symbol["Section"] == f"__aotc_const (0x{ordinal:X})", symbol
        value = int(symbol["Value"], 16)
        offset = int(section["Offset"]) + value - int(section["Address"], 16)
        assert _bytes_at(obj, offset, c.nbytes) == c.tobytes()
    # LC_DYSYMTAB groups locals, defined externals, undefined ones, and the table agrees.
    (groups,) = info["Dysymtab"]
    g = {k: int(v) for k, v in groups.items() if k.startswith(("i", "n"))}
    assert g["iextdefsym"] == g["nlocalsym"] and g["iundefsym"] == g["iextdefsym"] + g["nextdefsym"]
    assert g["iundefsym"] + g["nundefsym"] == len(info["Symbol"])
    for k, symbol in enumerate(info["Symbol"]):
        group = ("local" if k < g["iextdefsym"] else "extdef" if k < g["iundefsym"] else "undef")
        assert (group == "local") == (not symbol.get("Extern")), (k, symbol)
        assert (group == "undef") == symbol["Type"].startswith("Undef"), (k, symbol)
    # The code refers to the constants directly (no GOT), through the defined symbols.
    to_constants = [r["line"] for r in info["Relocation"] if ".constant." in r["line"]]
    assert to_constants and not any("GOT" in line for line in to_constants), to_constants


@pytest.mark.skipif(READOBJ is None or LD64 is None,
                    reason="needs llvm-readobj (apt llvm) and ld64.lld (apt lld)")
@pytest.mark.parametrize("triple", MACHO)
def test_macho_object_links_into_a_dylib(foreign, two_big_constants, triple):
    constants = two_big_constants[4]
    out = foreign[triple]
    dylib = out / "libbig.dylib"
    subprocess.run([LD64, "-dylib", "-arch", triple.split("-")[0], "-platform_version", "macos",
                    "11.0", "11.0", "-o", str(dylib), str(out / "big.o")], check=True)
    info = readobj(dylib, "--sections", "--symbols")
    (section,) = [s for s in info["Section"] if s["Name"].startswith("__aotc_const ")]
    symbols = {s["Name"].split()[0]: s for s in info["Symbol"]}
    for k, c in enumerate(constants):
        symbol = symbols[f"_big_entry.constant.{k}"]
        assert not symbol.get("Extern"), symbol  # private externs end up local
        offset = int(section["Offset"]) + int(symbol["Value"], 16) - int(section["Address"], 16)
        assert _bytes_at(dylib, offset, c.nbytes) == c.tobytes()
    assert symbols["_big_entry"].get("Extern")


@needs_readobj
@pytest.mark.parametrize("triple", COFF)
def test_coff_object_is_well_formed(foreign, two_big_constants, triple):
    constants = two_big_constants[4]
    obj = foreign[triple] / "big.o"
    info = readobj(obj, "--sections", "--symbols", "--relocations")
    (section,) = [s for s in info["Section"] if s["Name"].startswith(".rdata$aotc ")]
    # IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_ALIGN_64BYTES
    assert section["Characteristics"] == "0x40700040", section
    number = section["Number"]
    symbols = {s["Name"]: s for s in info["Symbol"]}
    for k, c in enumerate(constants):
        symbol = symbols[f"big_entry.constant.{k}"]
        assert symbol["Section"] == f".rdata$aotc ({number})", symbol
        assert symbol["StorageClass"] == "External (0x2)", symbol
        offset = int(section["PointerToRawData"], 16) + int(symbol["Value"])
        assert _bytes_at(obj, offset, c.nbytes) == c.tobytes()
    assert symbols[".rdata$aotc"]["StorageClass"] == "Static (0x3)"  # the section symbol
    to_constants = [r["line"] for r in info["Relocation"] if ".constant." in r["line"]]
    assert to_constants and all("REL32" in line for line in to_constants), to_constants


@pytest.mark.skipif(LLD_LINK is None or LLVM_MC is None,
                    reason="needs lld-link and llvm-mc (apt lld, llvm)")
def test_msvc_object_links_into_a_dll(foreign, two_big_constants, tmp_path):
    out = foreign["x86_64-pc-windows-msvc"]
    # Code that uses floating point references _fltused, which MSVC's C runtime defines;
    # this DLL is linked without the runtime (/noentry), so a stub assembled by llvm-mc
    # defines it (the value the runtime gives it).
    (tmp_path / "fltused.s").write_text(".data\n.globl _fltused\n_fltused:\n.long 0x9875\n")
    subprocess.run([LLVM_MC, "-filetype=obj", "-triple=x86_64-pc-windows-msvc",
                    str(tmp_path / "fltused.s"), "-o", str(tmp_path / "fltused.obj")],
                   check=True, capture_output=True)
    # Fails on any other unresolved symbol: the code's relocations reach the constants.
    subprocess.run([LLD_LINK, "/dll", "/noentry", "/export:big_entry", f"/out:{out / 'big.dll'}",
                    str(out / "big.o"), str(tmp_path / "fltused.obj")],
                   check=True, capture_output=True)
    assert (out / "big.dll").stat().st_size > sum(c.nbytes for c in two_big_constants[4])


WINDOWS_MAIN = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
int32_t big_entry(void* const* args, void* const* results, void* temps, const void* options);
static void* aligned(size_t size) {
  uintptr_t p = (uintptr_t)malloc(size + 64);
  return (void*)((p + 63) & ~(uintptr_t)63);
}
int main(int argc, char** argv) {
  size_t size = strtoull(argv[3], NULL, 10);
  void* args[1] = {aligned(size)};
  void* results[1] = {aligned(size)};
  FILE* in = fopen(argv[1], "rb");
  if (!in || fread(args[0], 1, size, in) != size) return 2;
  fclose(in);
  if (big_entry(args, results, aligned(64), NULL) != 0) return 1;
  FILE* out = fopen(argv[2], "wb");
  if (!out || fwrite(results[0], 1, size, out) != size) return 3;
  fclose(out);
  return 0;
}
"""


@pytest.fixture(scope="module")
def windows_exe(foreign):
    out = foreign["x86_64-w64-windows-gnu"]
    (out / "main.c").write_text(WINDOWS_MAIN)
    exe = out / "big.exe"
    subprocess.run([MINGW, "-O1", "-static", str(out / "main.c"), str(out / "big.o"), "-o",
                    str(exe)], check=True)
    return exe


@pytest.mark.skipif(MINGW is None, reason="needs x86_64-w64-mingw32-gcc (apt g++-mingw-w64-x86-64)")
def test_mingw_links_the_coff_object(windows_exe, two_big_constants):
    constants = two_big_constants[4]
    nm = subprocess.run(["x86_64-w64-mingw32-nm", str(windows_exe)], capture_output=True,
                        text=True, check=True).stdout
    placed = dict(line.split()[2:] + line.split()[1:2] for line in nm.splitlines()
                  if ".constant." in line)
    assert placed == {f"big_entry.constant.{k}": "R" for k in range(len(constants))}, nm


@pytest.mark.skipif(MINGW is None or WINE is None,
                    reason="needs x86_64-w64-mingw32-gcc (apt g++-mingw-w64-x86-64) and wine "
                           "(apt wine64)")
def test_windows_executable_runs_under_wine(windows_exe, two_big_constants, tmp_path):
    x, expected = two_big_constants[5], two_big_constants[6]
    (tmp_path / "x.bin").write_bytes(x.tobytes())
    env = {**os.environ, "WINEPREFIX": str(tmp_path / "wine"), "WINEDEBUG": "-all"}
    subprocess.run([WINE, str(windows_exe), str(tmp_path / "x.bin"), str(tmp_path / "y.bin"),
                    str(x.nbytes)], check=True, env=env, timeout=240, capture_output=True)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "y.bin", np.float32), expected)


def _object_calling_out(triple: str, writer) -> bytes:
    """An object of `triple` whose function reads two big constants declared through
    `writer` and calls an undefined function `ext` (so undefined symbols remain)."""
    import llvmlite.binding as llvm
    import llvmlite.ir as ir

    from aotc.backends.cpu.target import create_target_machine, resolve_target

    machine = create_target_machine(resolve_target(triple, None, None), 2)
    module = ir.Module("calls_out")
    module.triple, module.data_layout = triple, str(machine.target_data)
    i8, i64 = ir.IntType(8), ir.IntType(64)
    ext = ir.Function(module, ir.FunctionType(i8, [i8]), name="ext")
    fn = ir.Function(module, ir.FunctionType(i8, [i64]), name="reads")
    b = ir.IRBuilder(fn.append_basic_block())
    total = ir.Constant(i8, 0)
    for data in (b"\x01" * 70_000, b"\x02" * 90_000):
        var = ir.GlobalVariable(module, ir.ArrayType(i8, len(data)), writer.add(memoryview(data)))
        var.storage_class, var.global_constant, var.align = "hidden", True, 64
        loaded = b.load(b.gep(var, [ir.Constant(i64, 0), fn.args[0]]))
        total = b.add(total, b.call(ext, [loaded]))
    writer.add(memoryview(b"unreferenced"))
    b.ret(total)
    return machine.emit_object(llvm.parse_assembly(str(module)))


@needs_readobj
@pytest.mark.parametrize("triple", MACHO + COFF)
def test_relocations_keep_their_symbols(tmp_path, triple):
    """Defining symbols renumbers Mach-O's table (LC_DYSYMTAB groups): each relocation
    must still name the symbol it named, the undefined `ext` stays undefined."""
    writer = for_target(triple, "t")
    before, after = tmp_path / "before.o", tmp_path / "after.o"
    before.write_bytes(_object_calling_out(triple, writer))
    after.write_bytes(writer.attach(before.read_bytes()))
    old, new = (readobj(path, "--relocations", "--symbols") for path in (before, after))
    assert old["Relocation"] == new["Relocation"]
    assert any("ext" in r["line"] for r in new["Relocation"])
    symbols = {s["Name"].split()[0].lstrip("_"): s for s in new["Symbol"]}
    ext = symbols["ext"]
    assert ext.get("Type", "").startswith("Undef") or ext["Section"].startswith(
        "IMAGE_SYM_UNDEFINED"), ext
    assert "t.constant.2" not in symbols  # never declared: left out
    for k in (0, 1):
        section = symbols[f"t.constant.{k}"]["Section"]
        assert section.startswith(("__aotc_const", ".rdata$aotc")), section
    if triple in MACHO:
        (groups,) = readobj(after, "--macho-dysymtab")["Dysymtab"]
        assert int(groups["nundefsym"]) == 1 and int(groups["iundefsym"]) == len(new["Symbol"]) - 1
