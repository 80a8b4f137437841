"""The artifact writer, generated header/test/benchmark, runtime header and Python loader.

The compiler is not needed: a hand-written C entry function (`tiny_entry`, below) follows
the calling convention of runtime/program.py, is compiled to tiny.o with gcc, and is
described by a hand-built Program. Then:
- the header compiles as C11 and C++17 with -Wall -Wextra -Werror -pedantic, also for
  zero-arg, zero-result and scalar programs;
- a C++ program exercises the class (both AllocModes, named/indexed accessors, variables,
  lookups, thread pool) and a C program the C API;
- the generated test and benchmark build and run;
- `load()` runs it from Python and every misuse has a clear message;
- hostile node names cannot escape comments or string literals;
- a failing write leaves no output directory behind.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

from aotc import names
from aotc.artifact import write_artifact
from aotc.render import render_header
from aotc.runtime.program import Program, TensorSpec, VariableSpec
from aotc.runtime.loader import load

RUNTIME_DIR = Path(__file__).resolve().parents[1] / "runtime"
CFLAGS = ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"]
CXXFLAGS = ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-pthread"]

# sum = x + y (rows in parallel when given a pool); counter += 1 (an updated variable).
# Status 2 for a misaligned buffer, 3 when x[0][0] == -1 (to test error paths).
TINY_C = r"""
#include "aotc_runtime.h"

typedef struct { const float* x; const float* y; float* tmp; float* out; } Ctx;

static void row(void* p, int64_t i) {
  Ctx* c = (Ctx*)p;
  for (int64_t j = 0; j < 3; ++j) c->tmp[i * 3 + j] = c->x[i * 3 + j];
  for (int64_t j = 0; j < 3; ++j) c->out[i * 3 + j] = c->tmp[i * 3 + j] + c->y[i * 3 + j];
}

static int misaligned(const void* p) { return (uintptr_t)p % AOTC_BUFFER_ALIGNMENT != 0; }

int32_t tiny_entry(void* const* args, void* const* results, void* temps,
                   const AotcRunOptions* o) {
  Ctx c;
  int64_t i;
  if (misaligned(args[0]) || misaligned(args[1]) || misaligned(args[2]) ||
      misaligned(results[0]) || misaligned(results[1]) || misaligned(temps)) {
    return AOTC_ERROR_INVALID_ARGUMENT;
  }
  c.x = (const float*)args[0];
  c.y = (const float*)args[1];
  c.tmp = (float*)temps;
  c.out = (float*)results[0];
  if (c.x[0] == -1.0f) return AOTC_ERROR_RESOURCE_EXHAUSTED;
  if (o != NULL && o->parallel_for != NULL) {
    o->parallel_for(o->pool, 2, row, &c);
  } else {
    for (i = 0; i < 2; ++i) row(&c, i);
  }
  *(int32_t*)results[1] = *(const int32_t*)args[2] + 1;
  return AOTC_OK;
}
"""


def tiny_program(**overrides) -> Program:
    fields = dict(
        name="tiny",
        cpp_class="foo::bar::TinyComp",
        entry_symbol="tiny_entry",
        args=[
            TensorSpec("x", "x_hold", "float32", (2, 3)),
            TensorSpec("y", "y_hold", "float32", (2, 3)),
            TensorSpec("counter", "counter_var", "int32", ()),
        ],
        results=[
            TensorSpec("sum", "add", "float32", (2, 3)),
            TensorSpec("", "counter_var", "int32", ()),
        ],
        variables=[
            VariableSpec("counter", "counter_var", "int32", (), readonly=False, arg_index=2, result_index=1)
        ],
        temp_bytes=24,
        constant_bytes=0,
        target="x86_64-unknown-linux-gnu",
        program_shape="(f32[2,3], f32[2,3], s32[]) -> (f32[2,3], s32[])",
        gen_name_to_index=True,  # the C++ test below uses Lookup*Index and ProgramShape()
        gen_program_shape=True,
    )
    fields.update(overrides)
    return Program(**fields)


def run(cmd, cwd=None, ok=True):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    if ok and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def tiny_object(tmp_path_factory) -> bytes:
    d = tmp_path_factory.mktemp("tiny_src")
    (d / "tiny.c").write_text(TINY_C)
    run([*CFLAGS, "-O2", "-fPIC", "-I", RUNTIME_DIR, "-c", "tiny.c", "-o", "tiny.o"], cwd=d)
    return (d / "tiny.o").read_bytes()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, tiny_object):
    out = tmp_path_factory.mktemp("art") / "out"
    return write_artifact(tiny_program(), out, {"tiny.o": tiny_object}, gen_test=True, gen_benchmark=True)


# ---------------------------------------------------------------------------------------
# The header compiles, in every shape of program

def header_only_programs():
    scalar = TensorSpec("s", "s", "float64", ())
    return {
        "tiny": tiny_program(),
        "no_args": tiny_program(args=[], variables=[], results=[TensorSpec("c", "c", "int64", (4,))]),
        "no_results": tiny_program(results=[], variables=[], args=[scalar], temp_bytes=0),
        "nothing": tiny_program(cpp_class="Nothing", args=[], results=[], variables=[], temp_bytes=0),
        "scalars": tiny_program(args=[scalar, TensorSpec("", "b", "bool", ())], results=[scalar], variables=[]),
        "all_dtypes": tiny_program(
            variables=[],
            args=[TensorSpec(f"a_{t}", t, t, (2,)) for t in
                  ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                   "float16", "bfloat16", "float32", "float64")],
            results=[TensorSpec("r", "r", "float32", (0, 3, 4))],
        ),
        "readonly_var": tiny_program(
            args=[TensorSpec("w", "w", "float32", (3, 3))], results=[],
            variables=[VariableSpec("w", "w", "float32", (3, 3), readonly=True, arg_index=0)],
        ),
    }


@pytest.mark.parametrize("key", sorted(header_only_programs()))
def test_header_compiles_as_c_and_cxx(tmp_path, key):
    program = header_only_programs()[key]
    (tmp_path / "prog.h").write_text(render_header(program))
    shutil.copy(RUNTIME_DIR / "aotc_runtime.h", tmp_path)
    (tmp_path / "use.c").write_text('#include "prog.h"\nint main(void) { return 0; }\n')
    (tmp_path / "use.cc").write_text(
        textwrap.dedent(f"""\
        #include "prog.h"
        int main() {{
          {program.cpp_class} a;
          {program.cpp_class} b({program.cpp_class}::AllocMode::RESULTS_PROFILES_AND_TEMPS_ONLY);
          return static_cast<int>(a.kNumArgs + b.kNumResults) * 0;
        }}
        """)
    )
    run([*CFLAGS, "-fsyntax-only", "use.c"], cwd=tmp_path)
    run([*CXXFLAGS, "-fsyntax-only", "use.cc"], cwd=tmp_path)
    # The class also builds without the thread pool (no <thread>).
    run([*CXXFLAGS, "-DAOTC_NO_THREAD_POOL", "-fsyntax-only", "use.cc"], cwd=tmp_path)


def test_header_lists_buffers_and_c_api():
    text = render_header(tiny_program())
    for expected in [
        "arg 0: name 'x', node 'x_hold', float32[2,3], 24 bytes",
        "result 1: node 'counter_var', int32[], 4 bytes",
        "variable 0: name 'counter', node 'counter_var', int32[], 4 bytes, arg 2, updated via result 1",
        "Temp arena: 24 bytes",
        "#define TINY_NUM_ARGS 3",
        "#define TINY_NUM_RESULTS 2",
        "#define TINY_NUM_VARIABLES 1",
        "#define TINY_TEMP_BYTES 24",
        "static const size_t TINY_ARG_SIZES[3] = {24, 24, 4};",
        "int32_t tiny_entry(void* const* args, void* const* results, void* temps,",
        "#ifndef AOTC_TINY_FOO_BAR_TINYCOMP_H_",
        "namespace foo {",
        "class TinyComp {",
    ]:
        assert expected in text, expected
    assert "arg_y_data" in text and "result_sum_data" in text and "set_var_counter_data" in text
    # No named accessor for the unnamed result, no argN accessor for the variable.
    assert "result1_data" not in text and "arg2_data" not in text


# ---------------------------------------------------------------------------------------
# C and C++ programs against the artifact

CXX_MAIN = r"""
#include <atomic>
#include <cstdio>
#include <cstring>
#include "tiny.h"

using foo::bar::TinyComp;
static_assert(TinyComp::kNumArgs == 3 && TinyComp::kNumResults == 2, "counts");
static_assert(TinyComp::kNumVariables == 1 && TinyComp::ArgSize(0) == 24, "sizes");
static_assert(TinyComp::ArgSize(2) == 4 && TinyComp::ArgSize(99) == 0, "sizes");

static void count(void* ctx, int64_t) { static_cast<std::atomic<int>*>(ctx)->fetch_add(1); }
static void nested(void* ctx, int64_t) {  // a parallel_for inside a task must not deadlock
  aotc::ThreadPool* pool = *static_cast<aotc::ThreadPool**>(ctx);
  std::atomic<int> n{0};
  pool->ParallelFor(3, count, &n);
  if (n != 3) std::printf("nested broken\n");
}

int main() {
  TinyComp comp;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      comp.arg0(i, j) = static_cast<float>(i * 3 + j);
      comp.arg_y(i, j) = 100.0f;
    }
  comp.var_counter() = 41;
  if (!comp.Run()) { std::printf("run failed: %s\n", comp.error_msg().c_str()); return 1; }
  std::printf("sum %g %g %g\n", comp.result0(0, 0), comp.result_sum(1, 2), comp.result0_data()[4]);
  std::printf("counter %d %d\n", comp.var_counter(), *static_cast<int32_t*>(comp.result_data(1)));
  comp.Run();
  std::printf("counter again %d\n", comp.var_counter());

  // Thread pool, and parallel_for semantics.
  aotc::ThreadPool pool(4);
  comp.set_thread_pool(&pool);
  comp.arg_x(0, 0) = 0.5f;
  bool ok = comp.Run();  // (a separate statement: argument evaluation order is unspecified)
  std::printf("pool %d %g\n", ok, comp.result_sum(0, 0));
  std::atomic<int> n{0};
  pool.ParallelFor(1000, count, &n);
  aotc::ThreadPool* self = &pool;
  pool.ParallelFor(8, nested, &self);
  std::printf("parallel_for %d threads %d\n", n.load(), pool.num_threads());
  AotcRunOptions options = pool.run_options();
  comp.set_run_options(&options);
  comp.set_run_options(nullptr);

  // Error from the entry function.
  comp.arg0(0, 0) = -1.0f;
  ok = comp.Run();
  std::printf("status %d: %s\n", ok, comp.error_msg().c_str());

  // Caller-owned args.
  TinyComp borrowed(TinyComp::AllocMode::RESULTS_PROFILES_AND_TEMPS_ONLY);
  ok = borrowed.Run();
  std::printf("unset %d: %s\n", ok, borrowed.error_msg().c_str());
  float* x = static_cast<float*>(aotc_aligned_alloc(TinyComp::ArgSize(0)));
  float* y = static_cast<float*>(aotc_aligned_alloc(TinyComp::ArgSize(1)));
  int32_t* c = static_cast<int32_t*>(aotc_aligned_alloc(TinyComp::ArgSize(2)));
  for (int i = 0; i < 6; ++i) { x[i] = 1.0f; y[i] = static_cast<float>(i); }
  *c = 7;
  borrowed.set_arg_data(TinyComp::LookupArgIndex("x"), x);
  borrowed.set_arg1_data(y);
  ok = borrowed.Run();
  std::printf("still unset %d: %s\n", ok, borrowed.error_msg().c_str());
  borrowed.set_var_counter_data(c);
  ok = borrowed.Run();
  std::printf("borrowed %d %g %g counter %d same %d\n", ok, borrowed.result0(0, 0),
              borrowed.result0(1, 2), *c, borrowed.arg_data(0) == x);
  borrowed.set_arg_x_data(reinterpret_cast<char*>(x) + 4);
  ok = borrowed.Run();
  std::printf("misaligned %d: %s\n", ok, borrowed.error_msg().c_str());
  aotc_aligned_free(x); aotc_aligned_free(y); aotc_aligned_free(c);

  std::printf("lookup %d %d %d %d %d %d\n", TinyComp::LookupArgIndex("y"),
              TinyComp::LookupArgIndex("nope"), TinyComp::LookupArgIndex(""),
              TinyComp::LookupResultIndex("sum"), TinyComp::LookupVariableIndex("counter"),
              TinyComp::LookupArgIndex("counter"));
  std::printf("%s | %s\n", TinyComp::EntrySymbol(), TinyComp::ProgramShape());
  return 0;
}
"""

CXX_EXPECTED = """\
sum 100 105 104
counter 42 42
counter again 43
pool 1 100.5
parallel_for 1000 threads 4
status 0: tiny_entry failed with status 3 (resource exhausted)
unset 0: arg 0 'x' (node 'x_hold', float32[2,3]) is not set: call set_arg_data(0, ...) or its named setter before Run()
still unset 0: arg 2 'counter' (node 'counter_var', int32[]) is not set: call set_arg_data(2, ...) or its named setter before Run()
borrowed 1 1 6 counter 8 same 1
misaligned 1: 
lookup 1 -1 -1 0 2 -1
tiny_entry | (f32[2,3], f32[2,3], s32[]) -> (f32[2,3], s32[])
"""


def test_cpp_program(artifact, tmp_path):
    (tmp_path / "main.cc").write_text(CXX_MAIN)
    run([*CXXFLAGS, "-O1", "-I", artifact.out_dir, "main.cc", artifact.out_dir / "tiny.o", "-o", "main"], cwd=tmp_path)
    assert run([tmp_path / "main"]).stdout == CXX_EXPECTED


C_MAIN = r"""
#include <stdio.h>
#include "tiny.h"

int main(void) {
  void* args[TINY_NUM_ARGS];
  void* results[TINY_NUM_RESULTS];
  void* temps = aotc_aligned_alloc(TINY_TEMP_BYTES);
  int i, status;
  for (i = 0; i < TINY_NUM_ARGS; ++i) args[i] = aotc_aligned_alloc(TINY_ARG_SIZES[i]);
  for (i = 0; i < TINY_NUM_RESULTS; ++i) results[i] = aotc_aligned_alloc(TINY_RESULT_SIZES[i]);
  for (i = 0; i < 6; ++i) { ((float*)args[0])[i] = (float)i; ((float*)args[1])[i] = 0.5f; }
  *(int32_t*)args[2] = 1;
  status = tiny_entry(args, results, temps, NULL);
  printf("%d %g %d %s\n", status, ((float*)results[0])[5], *(int32_t*)results[1],
         aotc_status_string(status));
  for (i = 0; i < TINY_NUM_ARGS; ++i) aotc_aligned_free(args[i]);
  for (i = 0; i < TINY_NUM_RESULTS; ++i) aotc_aligned_free(results[i]);
  aotc_aligned_free(temps);
  return 0;
}
"""


def test_c_program(artifact, tmp_path):
    (tmp_path / "main.c").write_text(C_MAIN)
    run([*CFLAGS, "-I", artifact.out_dir, "main.c", artifact.out_dir / "tiny.o", "-o", "main"], cwd=tmp_path)
    assert run([tmp_path / "main"]).stdout == "0 5.5 2 ok\n"


def test_aligned_alloc_zero_size(tmp_path):
    (tmp_path / "z.c").write_text(
        '#include "aotc_runtime.h"\n#include <stdio.h>\n'
        "int main(void) { void* a = aotc_aligned_alloc(0); void* b = aotc_aligned_alloc(1);\n"
        "  printf(\"%d %d %d %d\\n\", a != NULL, (int)((uintptr_t)a % 64), (int)((uintptr_t)b % 64),\n"
        "         aotc_aligned_alloc((size_t)-1) == NULL);\n"
        "  aotc_aligned_free(a); aotc_aligned_free(b); aotc_aligned_free(NULL); return 0; }\n"
    )
    run([*CFLAGS, "-I", RUNTIME_DIR, "z.c", "-o", "z"], cwd=tmp_path)
    assert run([tmp_path / "z"]).stdout == "1 0 0 1\n"


def test_generated_test_and_benchmark(artifact, tmp_path):
    out = artifact.out_dir
    assert sorted(p.name for p in out.iterdir()) == [
        "aotc_runtime.h", "tiny.h", "tiny.json", "tiny.o", "tiny_benchmark.cc", "tiny_test.cc"]
    for kind in ("test", "benchmark"):
        run([*CXXFLAGS, "-O2", "-I", out, out / f"tiny_{kind}.cc", out / "tiny.o", "-o", kind], cwd=tmp_path)
    test = run([tmp_path / "test"])
    assert test.stdout.endswith("PASS\n") and "ok   thread pool" in test.stdout
    bench = run([tmp_path / "benchmark", "--seconds=0.05", "--threads=2"]).stdout
    for field in ("iterations:", "mean_us:", "median_us:", "min_us:", "max_us:"):
        assert field in bench
    assert int(re.search(r"iterations: (\d+)", bench).group(1)) > 0
    assert run([tmp_path / "benchmark", "--bogus"], ok=False).returncode == 2


# ---------------------------------------------------------------------------------------
# Python loader

def test_load_and_call(artifact):
    model = load(artifact.out_dir)
    assert model.program.entry_symbol == "tiny_entry"
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = np.full((2, 3), 0.25, np.float32)
    total, counter = model(x, y, np.int32(4))
    np.testing.assert_array_equal(total, x + y)
    assert counter.dtype == np.int32 and counter.shape == () and counter == 5
    # Keywords (Config names or node names), Python scalars/lists, repeated calls.
    total2, _ = model(y=y, x=x + 1, counter=0)
    np.testing.assert_array_equal(total2, x + 1 + y)
    np.testing.assert_array_equal(total, x + y)  # earlier results are not overwritten
    out = model.run_dict(x, y_hold=[[1, 2, 3], [4, 5, 6]], counter_var=np.int32(9))
    assert list(out) == ["sum", "counter_var"] == model.result_names
    np.testing.assert_array_equal(out["sum"], x + np.array([[1, 2, 3], [4, 5, 6]], np.float32))
    assert model.arg_names == ["x", "y", "counter"]
    assert "tiny" in repr(model)
    # load() also takes the .json path, and Artifact.load() works.
    assert load(artifact.metadata).program == model.program
    assert artifact.load().program.name == "tiny"


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((np.zeros((2, 3)), np.zeros((2, 3), np.float32), np.int32(0)), {}, TypeError,
         "argument 'x' expects float32[2,3], got float64[2,3]"),
        ((np.zeros((3, 2), np.float32), np.zeros((2, 3), np.float32), np.int32(0)), {}, ValueError,
         "argument 'x' expects float32[2,3], got float32[3,2]"),
        ((np.zeros((2, 3), np.float32),), {"counter": 1}, TypeError,
         "missing argument: 'y' (index 1)"),
        ((), {}, TypeError,
         "missing arguments: 'x' (index 0), 'y' (index 1), 'counter' (index 2)"),
        ((), {"z": 1}, TypeError,
         "unexpected keyword argument 'z'; expected one of: 'x', 'y', 'counter', 'x_hold', 'y_hold', 'counter_var'"),
        ((1, 2, 3, 4), {}, TypeError, "tiny takes 3 argument(s) but 4 were given"),
        ((np.zeros((2, 3), np.float32),), {"x_hold": 1}, TypeError,
         "got multiple values for argument 'x'"),
        ((np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32), 1.5), {}, TypeError,
         "argument 'counter' expects int32[], got float (float64[]) that does not convert safely"),
        ((np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32), 2**40), {}, TypeError,
         "argument 'counter' expects int32[], got int (int64[]) that does not convert safely"),
        ((np.full((2, 3), -1, np.float32), np.zeros((2, 3), np.float32), 0), {}, RuntimeError,
         "tiny_entry returned status 3 (tiny)"),
    ],
)
def test_load_errors(artifact, args, kwargs, error, message):
    model = load(artifact.out_dir)
    with pytest.raises(error) as info:
        model(*args, **kwargs)
    assert str(info.value) == message


def test_load_uses_shared_library_or_links_object(tmp_path, tiny_object):
    shared = write_artifact(tiny_program(), tmp_path / "shared", {"tiny.o": tiny_object}, shared=True)
    assert load(shared.out_dir).library_path == shared.out_dir / "libtiny.so"
    plain = write_artifact(tiny_program(), tmp_path / "plain", {"tiny.o": tiny_object})
    model = load(plain.out_dir)
    assert model.library_path.parent == plain.out_dir / ".aotc_cache"
    assert load(plain.out_dir).library_path == model.library_path  # cached
    (plain.out_dir / "tiny.o").unlink()
    shutil.rmtree(plain.out_dir / ".aotc_cache")
    with pytest.raises(FileNotFoundError, match="has neither libtiny.so nor tiny.o"):
        load(plain.out_dir)
    with pytest.raises(FileNotFoundError, match="no aotc metadata"):
        load(tmp_path)


def test_load_reports_missing_compiler(tmp_path, tiny_object, monkeypatch):
    art = write_artifact(tiny_program(), tmp_path / "a", {"tiny.o": tiny_object})
    monkeypatch.setenv("CC", "no-such-compiler-aotc")
    with pytest.raises(RuntimeError, match="no C compiler .'no-such-compiler-aotc'."):
        load(art.out_dir)


# ---------------------------------------------------------------------------------------
# Names: hostile text and invalid identifiers

HOSTILE = ["x */ int evil(); /*\n#include <x>", "a\\", "b??/", "c\\\nint evil2;", "q\"); evil3(\"", "\u00e9*/\u4e2d"]


def test_c_string_and_comment_filters():
    assert names.c_string('a"b\\c?\n\u00e9') == '"a\\"b\\\\c\\?\\n\\303\\251"'
    for text in HOSTILE:
        comment = names.c_comment(text)
        assert "*/" not in comment and "/*" not in comment and "??" not in comment
        assert "\n" not in comment and not comment.endswith("\\")
        assert all(comment[i + 1] in "xuU" for i, ch in enumerate(comment) if ch == "\\")


def strip_comments_and_strings(source: str, tmp_path: Path) -> str:
    (tmp_path / "strip.h").write_text(source)
    # gcc's own lexer removes the comments (-fpreprocessed: no includes or macros).
    text = run(["gcc", "-fpreprocessed", "-dD", "-E", "-P", "-x", "c", "strip.h"], cwd=tmp_path).stdout
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


def test_hostile_node_names_stay_in_comments_and_strings(tmp_path):
    program = tiny_program(
        args=[TensorSpec("", node, "float32", (1,)) for node in HOSTILE],
        results=[TensorSpec("", HOSTILE[0], "float32", (1,))],
        variables=[],
        target="x86_64 */ evil4(); /*",
        program_shape='") evil5("\\',
    )
    header = render_header(program)
    code = strip_comments_and_strings(header, tmp_path)
    assert not re.search(r"evil|#include <x>", code)
    shutil.copy(RUNTIME_DIR / "aotc_runtime.h", tmp_path)
    (tmp_path / "tiny.h").write_text(header)
    # Compiles (trigraphs are on in -std=c11), and a user symbol named evil() does not clash.
    (tmp_path / "use.c").write_text('#include "tiny.h"\nint evil = 1;\nint main(void) { return evil - 1; }\n')
    run([*CFLAGS, "-fsyntax-only", "use.c"], cwd=tmp_path)
    # The string literals hold the exact text: the error for each unset arg names its node.
    (tmp_path / "use.cc").write_text(textwrap.dedent("""\
        #include <cstdio>
        #include "tiny.h"
        int evil = 1;
        int main() {
          foo::bar::TinyComp comp(foo::bar::TinyComp::AllocMode::RESULTS_PROFILES_AND_TEMPS_ONLY);
          float dummy[16] __attribute__((aligned(64))) = {};
          for (size_t i = 0; i < comp.kNumArgs; ++i) {
            comp.Run();
            std::fputs(comp.error_msg().c_str(), stdout);
            std::fputs("\\x01", stdout);
            comp.set_arg_data(i, dummy);
          }
          std::fputs(foo::bar::TinyComp::ProgramShape(), stdout);
          return evil - 1;
        }
        """))
    run([*CXXFLAGS, "-c", "use.cc"], cwd=tmp_path)  # no entry to link: check the text instead
    (tmp_path / "stub.c").write_text(
        '#include "aotc_runtime.h"\nint32_t tiny_entry(void* const* a, void* const* r, void* t, '
        "const AotcRunOptions* o) { (void)a; (void)r; (void)t; (void)o; return 0; }\n")
    run([*CFLAGS, "-I", tmp_path, "-c", "stub.c"], cwd=tmp_path)
    run(["g++", "-pthread", "use.o", "stub.o", "-o", "use"], cwd=tmp_path)
    out = subprocess.run([tmp_path / "use"], capture_output=True).stdout.decode("utf-8")
    messages, shape = out.rsplit("\x01", 1)
    for i, (message, node) in enumerate(zip(messages.split("\x01"), HOSTILE)):
        assert message.startswith(f"arg {i} (node '{node}', float32[1]) is not set")
    assert shape == program.program_shape


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"cpp_class": "foo::1bar::X"}, "component '1bar' is not a valid C++ identifier"),
        ({"cpp_class": "a::class::B"}, "component 'class' is not a valid C++ identifier"),
        ({"cpp_class": "A::::B"}, "component '' is not a valid"),
        ({"cpp_class": "ns::Run"}, "clashes with a generated member"),
        ({"entry_symbol": "x y"}, "entry symbol 'x y' is not a valid"),
        ({"name": "../evil"}, "invalid artifact name '../evil'"),
        ({"args": [TensorSpec("int", "n", "float32", ())], "variables": []}, "arg 0 name 'int' is not"),
        ({"args": [TensorSpec("a b", "n", "float32", ())], "variables": []}, "arg 0 name 'a b' is not"),
        ({"args": [TensorSpec("x", "n", "str", ())], "variables": []}, "unsupported dtype"),
        ({"args": [TensorSpec("data", "n", "float32", ())], "variables": []}, "the generated class's own API and feed 'data' both generate the identifier 'arg_data'"),
        ({"args": [TensorSpec("x", "a", "float32", ()), TensorSpec("x", "b", "float32", ())],
          "variables": []}, "duplicate feed name 'x'"),
        ({"variables": [VariableSpec("v", "v", "int32", (), arg_index=2, result_index=-1)]},
         "readonly=False but result_index=-1"),
        ({"variables": [VariableSpec("v", "v", "float32", (), arg_index=2, result_index=1)]},
         "is float32[] but arg 2 is int32[]"),
    ],
)
def test_invalid_names_are_rejected(overrides, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        render_header(tiny_program(**overrides))


def test_names_helpers():
    assert names.is_c_identifier("_ok9") and not names.is_c_identifier("9no")
    assert not names.is_c_identifier("template") and not names.is_c_identifier("")
    assert names.validate_cpp_class("a::b::C") == ["a", "b", "C"]
    assert names.sanitize_identifier("my-model.v2") == "my_model_v2"
    assert names.sanitize_identifier("3d") == "aotc_3d"


# ---------------------------------------------------------------------------------------
# Atomic writes

def test_failed_write_leaves_nothing(tmp_path, tiny_object):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="C compiler 'no-such-cc-aotc' not found"):
        write_artifact(tiny_program(), out, {"tiny.o": tiny_object}, shared=True, cc="no-such-cc-aotc")
    with pytest.raises(ValueError, match="plain file name"):
        write_artifact(tiny_program(), out, {"../x.o": b""})
    with pytest.raises(ValueError, match="needs an object file"):
        write_artifact(tiny_program(), out, {"tiny.ptx": b""}, shared=True)
    assert list(tmp_path.iterdir()) == []  # neither out nor a temporary sibling


def test_write_into_existing_dir_keeps_other_files(tmp_path, tiny_object):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    (out / "tiny.h").write_text("stale")
    art = write_artifact(tiny_program(), out, {"tiny.o": tiny_object})
    assert (out / "keep.txt").read_text() == "mine"
    assert (out / "tiny.h").read_text() == render_header(tiny_program())
    assert set(art.files) == {"tiny.h", "tiny.json", "aotc_runtime.h", "tiny.o"}
    assert Program.from_json((out / "tiny.json").read_text()) == tiny_program()
    # A failure now leaves the previous artifact as it was.
    with pytest.raises(RuntimeError):
        write_artifact(tiny_program(temp_bytes=0), out, {"tiny.o": tiny_object}, shared=True, cc="no-such-cc-aotc")
    assert "TINY_TEMP_BYTES 24" in (out / "tiny.h").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
