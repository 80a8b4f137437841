"""Packed GEMM for float dots, in the style of BLIS and MLAS.

A dot is seen as C[b, m, n] = sum_k A[b, m, k] * B[b, k, n] (`plan_gemm` collapses free,
contracting and batch dimensions into these, from the operands' layouts; C must be
contiguous along n, else A and B swap roles). The code:

    for each batch item b:
      for jc in blocks of NC columns:
        for pc in blocks of KC steps of k:
          pack B[pc:pc+kc, jc:jc+nc] into panels of NR columns (the task's scratch slot
            in the temp arena), unless B is a constant, which the compiler packed once
            into the object, panel by panel
          for ic in blocks of MC rows:
            for each panel of NR columns:
              for each MR rows: the micro-kernel

The micro-kernel keeps an MR x NR tile of C in vector registers (MR * NR / lanes
accumulators) and walks k: it loads NR/lanes vectors of the packed panel, broadcasts one
element of each of the MR rows of A (read in place, unpacked, as MLAS does) and
accumulates with `llvm.fmuladd` on vectors. The tile's accumulators start from C (or zero
on the first pc block), so every output element is one sequential sum over k, in the
same order whatever the blocking: results do not depend on how the work is split.
In a fusion, the finished tile (after the last pc block) goes through the fusion's
elementwise epilogue (bias, activation, residual add) on its way out of the registers:
each tile row is spilled to a stack row that LLVM keeps in registers once the
epilogue's loop is vectorized, and C is written once, never read back. (Re-reading the
stored block instead cost a load per element, and LLVM turned an in-place ReLU into
masked stores, which are slow on AMD cores.)
Edges: the last panel is zero-padded when packed and stored lane by lane; the last rows
(M % MR) get a micro-kernel of exactly that many rows. Tile sizes come from the target's
vector width and register count (`choose_tile`).

Skinny dots: when M is below a tile (batch-1 dense layers) and B is a constant, the
micro-kernel takes several panels at once (enough independent accumulators to hide the
FMA latency), over all of K; with B fed, such dots keep the packing-free loop of
`emitter.emit_dot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import llvmlite.ir as ir
import numpy as np

from aotc.hlo import Instruction
from aotc.runtime.program import BUFFER_ALIGNMENT

from .buffers import strides
from .codegen import CodeGen
from .elemental import dot_dimensions
from .llvm_types import F32, F64, I1, I32, I64, PTR, int_const, register_type
from .tasks import balanced_blocks, scratch_slot, task_kernel

#: Bytes of the buffer holding one packed KC x NC block of a fed B at most (one per
#: concurrently running task, in the temp arena's scratch; MLAS packs 64 KiB panels).
PACK_BUFFER_BYTES = 256 * 1024
#: Bytes of one packed micro-panel (KC x NR) meant to stay in L1 while MR rows sweep it.
PANEL_BYTES = 16 * 1024
#: Bytes of the MC x KC block of A meant to stay in L2 while the panels sweep it.
A_BLOCK_BYTES = 128 * 1024
#: Multiply-adds below which a GEMM is not split further for threads.
MIN_SPLIT_MACS = 1 << 18
#: Independent accumulator vectors a skinny (M < MR) micro-kernel keeps at least.
SKINNY_CHAINS = 8
#: K (multiply-adds per accumulator and tile) from which a tile's epilogue loops over its
#: rows (`_epilogue_tile`). Below it the rows are unrolled, each row's epilogue working on
#: the accumulators in registers: a stem convolution's K of 27 measured 2.5% slower
#: (ResNet-style net) with the store and reload through the stack.
MIN_ROLLED_EPILOGUE_K = 64


@dataclass(frozen=True)
class Tile:
    """The register tile of the micro-kernel: `rows` (MR) x `vectors` * `lanes` (NR)."""

    lanes: int  # elements per vector register
    vectors: int  # vectors per tile row
    rows: int  # MR
    registers: int  # vector registers of the target

    @property
    def nr(self) -> int:
        return self.lanes * self.vectors


def vector_registers(target) -> tuple[int, int]:
    """(bytes per vector register, number of vector registers) of `target`."""
    features = set(target.features.split(","))
    if target.arch in ("x86_64", "i686", "i386"):
        if "+avx512f" in features:
            return 64, 32
        if "+avx" in features:
            return 32, 16
        return 16, 16
    if target.arch in ("aarch64", "arm64"):
        return 16, 32
    return 16, 16  # portable: 128-bit vectors, which LLVM legalizes on any target


def choose_tile(target, element_bytes: int, columns: int | None = None) -> Tile:
    """MR x NR: two vectors per row, as many rows as the registers hold beside the two B
    vectors and one broadcast (AVX-512: 12 x 32 f32, AVX2: 6 x 16, NEON: 12 x 8). When
    the product has at most one vector of `columns` (a convolution with few output
    features), one vector per row and twice the rows (up to 12): a second vector would
    only multiply padding, and more rows are more independent accumulators. On AVX-512,
    a product of at most half a vector of columns uses 256-bit vectors (AVX-512VL keeps
    all 32 registers for them): a zmm tile would leave half its lanes idle, and the
    narrow-convolution choices of conv_gemm.py then match those measured on AVX2."""
    width, registers = vector_registers(target)
    if columns is not None and width > 32 and columns <= width // 2 // element_bytes:
        width //= 2
        if "+avx512vl" not in target.features.split(","):
            registers = 16  # ymm16-31 need AVX-512VL
    vectors = 1 if columns is not None and columns <= width // element_bytes else 2
    rows = min(12, (registers - vectors - 1) // vectors)
    return Tile(width // element_bytes, vectors, rows, registers)


def rows_dividing(m: int, rows: int) -> int:
    """MR for a GEMM of m rows with a register tile of up to `rows`: the most rows, down
    to two thirds of them, that divide m, else `rows`. With no remainder there is no
    tail micro-kernel to emit, which is half of a small model's LLVM time (ResNet-style
    net: 8 rows for its 32x32, 16x16 and 8x8 maps instead of 12 and a 4-row tail),
    and two thirds of the rows still keep enough accumulators to hide the FMA latency."""
    for candidate in range(rows, max(1, -(-2 * rows // 3)) - 1, -1):
        if m % candidate == 0:
            return candidate
    return rows


@dataclass
class GemmPlan:
    """A dot as C[b, m, n] = A[b, m, :] . B[b, :, n]: extents and element strides."""

    m: int
    n: int
    k: int
    a: int  # operand index of A (0: lhs; 1 when the roles are swapped)
    batch: list[int]  # extents of the batch dimensions
    a_batch: list[int]
    b_batch: list[int]
    c_batch: list[int]
    a_m: int
    a_k: int
    b_k: int
    b_n: int
    c_m: int
    m_dims: list[int]  # output dimensions making up m (major to minor)
    n_dims: list[int]
    batch_dims: list[int] = field(default_factory=list)


def _collapse(extents: list[int], strides_: list[int]) -> int | None:
    """The single stride of dimensions (major to minor) flattened into one, or None when
    their memory layout does not allow it. Dimensions of extent 1 do not count."""
    kept = [(e, s) for e, s in zip(extents, strides_) if e != 1]
    for (_, outer), (extent, inner) in zip(kept, kept[1:]):
        if outer != inner * extent:
            return None
    return kept[-1][1] if kept else 1


def plan_gemm(inst: Instruction) -> GemmPlan | None:
    """The GEMM view of `inst`, or None when its layouts do not flatten to one."""
    lhs, rhs = inst.operands
    lb, rb, lc, rc, lf, rf = dot_dimensions(inst)
    ls, rs, cs = strides(lhs.shape), strides(rhs.shape), strides(inst.shape)
    nb = len(lb)
    m_dims = list(range(nb, nb + len(lf)))
    n_dims = list(range(nb + len(lf), inst.shape.rank))
    ext = lambda shape, dims: [shape.dims[d] for d in dims]  # noqa: E731
    pick = lambda s, dims: [s[d] for d in dims]  # noqa: E731
    m = int(np.prod(ext(lhs.shape, lf), dtype=np.int64))
    n = int(np.prod(ext(rhs.shape, rf), dtype=np.int64))
    k = int(np.prod(ext(lhs.shape, lc), dtype=np.int64))
    strides_ = {
        "l_m": _collapse(ext(lhs.shape, lf), pick(ls, lf)),
        "l_k": _collapse(ext(lhs.shape, lc), pick(ls, lc)),
        "r_k": _collapse(ext(rhs.shape, rc), pick(rs, rc)),
        "r_n": _collapse(ext(rhs.shape, rf), pick(rs, rf)),
        "c_m": _collapse(ext(inst.shape, m_dims), pick(cs, m_dims)),
        "c_n": _collapse(ext(inst.shape, n_dims), pick(cs, n_dims)),
    }
    if any(v is None for v in strides_.values()) or k == 0 or m == 0 or n == 0:
        return None
    batch = ext(lhs.shape, lb)
    c_batch = cs[:nb]
    if strides_["c_n"] == 1 or n == 1 and m == 1:
        return GemmPlan(m, n, k, 0, batch, pick(ls, lb), pick(rs, rb), c_batch,
                        strides_["l_m"], strides_["l_k"], strides_["r_k"], strides_["r_n"],
                        strides_["c_m"], m_dims, n_dims, list(range(nb)))
    if strides_["c_m"] == 1:  # C^T = B^T A^T: rhs free dims become the rows
        return GemmPlan(n, m, k, 1, batch, pick(rs, rb), pick(ls, lb), c_batch,
                        strides_["r_n"], strides_["r_k"], strides_["l_k"], strides_["l_m"],
                        strides_["c_n"], n_dims, m_dims, list(range(nb)))
    return None


def pack_constant(plan: GemmPlan, literal: np.ndarray, inst: Instruction, tile: Tile) -> bytes:
    """B of `plan` (the constant operand `literal`, logical order) in panel layout:
    [batch][panel][k][NR], the last panel zero-padded."""
    lb, rb, lc, rc, lf, rf = dot_dimensions(inst)
    if plan.a == 0:  # B is the rhs: [batch..., contracting..., free...]
        order = rb + rc + rf
    else:  # B is the lhs, the roles swapped
        order = lb + lc + lf
    batch = int(np.prod(plan.batch, dtype=np.int64))
    return panels(np.transpose(literal, order).reshape(batch, plan.k, plan.n), tile)


def panels(matrices: np.ndarray, tile: Tile) -> bytes:
    """[batch, K, N] matrices in panel layout [batch][panel][k][NR], zero-padded."""
    batch, k, n = matrices.shape
    count = -(-n // tile.nr)
    padded = np.zeros((batch, k, count * tile.nr), dtype=matrices.dtype)
    padded[:, :, :n] = matrices
    packed = padded.reshape(batch, k, count, tile.nr).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(packed).tobytes()


# -- IR helpers -----------------------------------------------------------------------------


def splat(b: ir.IRBuilder, value, vty: ir.VectorType):
    """`value` in every lane of a `vty` vector."""
    one = b.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(I32, 0))
    return b.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                            ir.Constant(ir.VectorType(I32, vty.count), [0] * vty.count))


def fmuladd(cg: CodeGen, ty: ir.Type) -> ir.Function:
    """llvm.fmuladd on `ty` (a float or a vector of floats): a * b + c, fused where the
    target has FMA."""
    return cg.intrinsic("llvm.fmuladd", ty, [ty] * 3)


def carried_loop(cg: CodeGen, count, carried: list, body, name: str) -> list:
    """for i in range(count): carried = body(i, carried); returns the final values. The
    carried values live in registers (phis), unlike CodeGen.for_range's loops. A constant
    count of 0 or 1 is no loop (as in for_range)."""
    b = cg.builder
    static = count if isinstance(count, int) else getattr(count, "constant", None)
    if isinstance(static, int) and static <= 1:
        if static <= 0:
            return list(carried)
        with cg.scope():
            return list(body(int_const(0), list(carried)))
    count = int_const(count) if isinstance(count, int) else count
    preheader = b.block
    header = cg.function.append_basic_block(f"{name}.header")
    loop_body = cg.function.append_basic_block(f"{name}.body")
    exit_ = cg.function.append_basic_block(f"{name}.exit")
    b.branch(header)
    b.position_at_end(header)
    index = b.phi(I64, name=name)
    index.add_incoming(int_const(0), preheader)
    phis = []
    for value in carried:
        phi = b.phi(value.type)
        phi.add_incoming(value, preheader)
        phis.append(phi)
    b.cbranch(b.icmp_signed("<", index, count), loop_body, exit_)
    b.position_at_end(loop_body)
    updated = body(index, phis)
    following = b.add(index, int_const(1), flags=("nuw", "nsw"))
    index.add_incoming(following, b.block)
    for phi, value in zip(phis, updated):
        phi.add_incoming(value, b.block)
    b.branch(header)
    b.position_at_end(exit_)
    return phis


def element_gep(b: ir.IRBuilder, pointer, offset, ty):
    """`pointer` + `offset` elements of type `ty` (an int offset of 0: the pointer)."""
    if isinstance(offset, int):
        if offset == 0:
            return pointer
        offset = int_const(offset)
    return b.gep(pointer, [offset], inbounds=True, source_etype=ty)


def index_mul(b: ir.IRBuilder, value, factor: int):
    """value * factor for an index (i64 value or int), folding a factor of 1."""
    if factor == 1:
        return value
    if isinstance(value, int):
        return value * factor
    return b.mul(value, int_const(factor), flags=("nuw", "nsw"))


def index_add(b: ir.IRBuilder, x, y):
    """x + y for non-negative indices (i64 values or ints), folding constants."""
    if isinstance(x, int) and isinstance(y, int):
        return x + y
    if isinstance(x, int):
        x, y = y, x
    if isinstance(y, int):
        return x if y == 0 else b.add(x, int_const(y), flags=("nuw", "nsw"))
    return b.add(x, y, flags=("nuw", "nsw"))


def _min(b: ir.IRBuilder, x, y: int):
    return b.select(b.icmp_signed("<", x, int_const(y)), x, int_const(y))


# -- the emitter ----------------------------------------------------------------------------


class GemmEmitter:
    """Emits one GEMM (`plan`) into `cg`'s function; see the module docstring."""

    def __init__(self, plan: GemmPlan, tile: Tile, element: ir.Type, constant: bool,
                 threads: int = 1):
        if plan.m >= tile.rows:
            tile = replace(tile, rows=rows_dividing(plan.m, tile.rows))
        self.plan, self.tile, self.ty = plan, tile, element
        self.threads = threads
        self.constant = constant
        self.scratch = None  # a fed B's packing buffer: the running task's scratch slot
        self._tile_m: list = []  # the current micro-tile's row indices (`_micro`)
        self.vty = ir.VectorType(element, tile.lanes)
        self.eb = 4 if element == F32 else 8  # bytes per element
        self.skinny = plan.m < tile.rows
        if self.skinny:
            self.kc, self.mc = plan.k, plan.m
            self.nc = -(-plan.n // tile.nr) * tile.nr
        else:
            self.kc = max(32, min(512, PANEL_BYTES // (tile.nr * self.eb)))
            self.kc = min(self.kc, plan.k)
            rows = max(1, A_BLOCK_BYTES // (self.kc * self.eb * tile.rows))
            # As many blocks as the cache allows, then balanced (no sliver of a block).
            blocks = -(-plan.m // (rows * tile.rows))
            self.mc = -(-(-(-plan.m // blocks)) // tile.rows) * tile.rows
            if not constant:
                panels = max(1, PACK_BUFFER_BYTES // (self.kc * tile.nr * self.eb))
            else:  # nothing to pack: one block over all columns
                panels = -(-plan.n // tile.nr)
            self.nc = min(panels, -(-plan.n // tile.nr)) * tile.nr
            self.split_rows()

    def split_rows(self) -> None:
        """Smaller MC (and NC) blocks where the cache blocking leaves too few tasks to
        share evenly among `threads` (for work worth splitting): tasks are what the pool
        can run in parallel (tasks.balanced_blocks)."""
        plan, tile = self.plan, self.tile
        batch = int(np.prod(plan.batch, dtype=np.int64))
        if plan.m * plan.n * plan.k >= MIN_SPLIT_MACS:
            self.mc, width = balanced_blocks(plan.m, tile.rows, self.mc, -(-plan.n // tile.nr),
                                             self.nc // tile.nr, batch, self.threads)
            self.nc = width * tile.nr

    # -- structure --

    @property
    def blocks(self) -> tuple[int, int, int]:
        """(batch items, NC column blocks, MC row blocks): their product is the task count."""
        batch = int(np.prod(self.plan.batch, dtype=np.int64))
        return batch, -(-self.plan.n // self.nc), -(-self.plan.m // self.mc)

    @property
    def pack_bytes(self) -> int:
        """Scratch bytes one task needs: the packed KC x NC block of a fed B (0 if constant)."""
        if self.constant:
            return 0
        return -(-self.kc * self.nc * self.eb // BUFFER_ALIGNMENT) * BUFFER_ALIGNMENT

    @property
    def tasks(self) -> int:
        """Independent pieces of work: one MC x NC block of C (of one batch item) each."""
        batch, n_blocks, m_blocks = self.blocks
        return batch * n_blocks * m_blocks

    def emit(self, cg: CodeGen, c, a, b, packed, epilogue, task=None) -> None:
        """Task `task` (an i64 value; None: every task in turn) into `cg`'s function: C at
        `c`, A at `a`, B at `b` (fed) or `packed` (the constant's global).
        epilogue(self, batch_index, m, col0, columns, row), when given, stores each row of
        a finished micro-tile instead: `row` points at the tile row's NR values (on the
        stack), to be stored as C[batch, m, col0 + j] for j < columns (a static count)
        through the fusion's epilogue (`_epilogue_tile`)."""
        self.cg, self.c, self.a, self.b_fed, self.packed = cg, c, a, b, packed
        self._epilogue, self._tile_row = epilogue, None
        if task is None:
            with self.cg.for_range(self.tasks, name="task") as each:
                self._emit_task(each)
        else:
            self._emit_task(task)

    def _emit_task(self, task) -> None:
        """One MC x NC block of C: for each KC block, pack B (if fed), run the micro-kernels."""
        cg, b, plan, tile = self.cg, self.cg.builder, self.plan, self.tile
        _, n_blocks, m_blocks = self.blocks
        ic_block = b.urem(task, int_const(m_blocks)) if m_blocks > 1 else int_const(0)
        rest = b.udiv(task, int_const(m_blocks)) if m_blocks > 1 else task
        jc_block = b.urem(rest, int_const(n_blocks)) if n_blocks > 1 else int_const(0)
        batch_flat = b.udiv(rest, int_const(n_blocks)) if n_blocks > 1 else rest
        batch_index, remaining = [None] * len(plan.batch), batch_flat
        for i in reversed(range(len(plan.batch))):
            extent = plan.batch[i]
            batch_index[i] = b.urem(remaining, int_const(extent)) if i else remaining
            if extent == 1:
                batch_index[i] = int_const(0)
            remaining = b.udiv(remaining, int_const(extent)) if i else remaining
        offsets = [0, 0, 0]
        for i, extent in enumerate(plan.batch):
            if extent != 1:
                for j, stride in enumerate((plan.a_batch[i], plan.b_batch[i], plan.c_batch[i])):
                    offsets[j] = index_add(b, offsets[j], index_mul(b, batch_index[i], stride))
        a = element_gep(b, self.a, offsets[0], self.ty)
        c = element_gep(b, self.c, offsets[2], self.ty)
        b_fed = None if self.b_fed is None else element_gep(b, self.b_fed, offsets[1], self.ty)
        buffer = None
        if self.packed is None:  # the task's scratch slot: each running task has its own
            if self.scratch is None:
                raise ValueError("a GEMM with a fed B needs a scratch slot to pack into")
            buffer = self.scratch

        panels_total = -(-plan.n // tile.nr)
        k_blocks = max(1, -(-plan.k // self.kc))
        jc = index_mul(b, jc_block, self.nc)
        nc = _min(b, b.sub(int_const(plan.n), jc), self.nc)
        ic = index_mul(b, ic_block, self.mc)
        mc = _min(b, b.sub(int_const(plan.m), ic), self.mc)
        with cg.for_range(k_blocks, name="pc") as pc_block:
            pc = index_mul(b, pc_block, self.kc)
            kc = _min(b, b.sub(int_const(plan.k), pc), self.kc)
            first = last = ir.Constant(I1, 1)
            if k_blocks > 1:
                first = b.icmp_signed("==", pc_block, int_const(0))
                last = b.icmp_signed("==", pc_block, int_const(k_blocks - 1))
            if buffer is not None:
                self._pack(b_fed, buffer, pc, kc, jc, nc)

            def panel_pointer(panel):  # panel: index within this jc block
                if buffer is not None:
                    return element_gep(b, buffer, b.mul(panel, b.mul(kc, int_const(tile.nr))), self.ty)
                global_panel = index_add(b, index_add(b, index_mul(b, batch_flat, panels_total),
                                            b.udiv(jc, int_const(tile.nr))), panel)
                start = index_add(b, index_mul(b, global_panel, plan.k), pc)
                return element_gep(b, self.packed, index_mul(b, start, tile.nr), self.ty)

            self._final = (batch_index, last)  # for the micro-tiles' epilogue
            self._emit_block(a, c, ic, mc, jc, nc, pc, kc, first, panel_pointer)

    def _emit_block(self, a, c, ic, mc, jc, nc, pc, kc, first, panel_pointer) -> None:
        """All micro-tiles of rows [ic, ic+mc) x columns [jc, jc+nc): rows outer, so the
        MR rows of A (read in place) stay in L1 while the packed panels stream by."""
        cg, b, plan, tile = self.cg, self.cg.builder, self.plan, self.tile
        full_panels = b.udiv(nc, int_const(tile.nr))
        tail = plan.n % tile.nr
        rows_tail = plan.m % tile.rows
        group = 1
        if self.skinny:  # enough accumulators to hide the FMA latency
            group = max(1, -(-SKINNY_CHAINS // (plan.m * tile.vectors)))
            group = min(group, max(1, (tile.registers - 2) // ((plan.m + 1) * tile.vectors)))

        def panels_loop(m0, rows):
            """Micro-kernels of rows [m0, m0 + rows) over the block's panels."""
            def micro(panels):
                self._micro(a, c, m0, rows, panels, pc, kc, first, jc, panel_pointer)

            if group == 1:
                with cg.for_range(full_panels, name="jr") as jr:
                    micro([(jr, tile.nr)])
            else:  # skinny: nc is all of N, so the panel counts are static
                count = plan.n // tile.nr
                with cg.for_range(count // group, name="jr") as jr:
                    first_panel = index_mul(b, jr, group)
                    micro([(index_add(b, first_panel, g), tile.nr) for g in range(group)])
                if count % group:
                    rest = count - count % group
                    micro([(int_const(rest + g), tile.nr) for g in range(count % group)])
            if tail:
                has_tail = b.icmp_signed("!=", b.urem(nc, int_const(tile.nr)), int_const(0))
                with b.if_then(has_tail):
                    micro([(full_panels, tail)])

        if self.skinny:
            panels_loop(ic, plan.m)
            return
        # Only the last block may end in a partial tile (`rows_tail` is static).
        assert self.mc % tile.rows == 0, (self.mc, tile.rows)
        full_rows = b.udiv(mc, int_const(tile.rows))
        with cg.for_range(full_rows, name="ir") as ir_:
            panels_loop(index_add(b, ic, index_mul(b, ir_, tile.rows)), tile.rows)
        if rows_tail:
            has_tail = b.icmp_signed("!=", b.urem(mc, int_const(tile.rows)), int_const(0))
            with b.if_then(has_tail):
                panels_loop(index_add(b, ic, index_mul(b, full_rows, tile.rows)), rows_tail)

    # -- packing --

    def _pack(self, source, buffer, pc, kc, jc, nc) -> None:
        """buffer[panel][k][NR] = B[pc + k, jc + panel*NR + j], zero past column N."""
        cg, b, plan, tile = self.cg, self.cg.builder, self.plan, self.tile
        full_panels = b.udiv(nc, int_const(tile.nr))
        tail = plan.n % tile.nr

        def copy_panel(panel, columns):
            base = element_gep(b, buffer, b.mul(panel, b.mul(kc, int_const(tile.nr))), self.ty)
            col0 = index_add(b, jc, index_mul(b, panel, tile.nr))
            with cg.for_range(kc, name="pk") as k:
                row = index_mul(b, index_add(b, pc, k), plan.b_k)
                target = element_gep(b, base, index_mul(b, k, tile.nr), self.ty)
                if plan.b_n == 1 and columns == tile.nr:
                    src = element_gep(b, source, index_add(b, row, col0), self.ty)
                    for v in range(tile.vectors):
                        value = b.load(element_gep(b, src, v * tile.lanes, self.ty), typ=self.vty,
                                       align=self.eb)
                        b.store(value, element_gep(b, target, v * tile.lanes, self.ty),
                                align=tile.lanes * self.eb)
                    return
                zero = ir.Constant(self.ty, 0.0)
                for j in range(tile.nr):
                    value = zero
                    if j < columns:
                        col = index_mul(b, index_add(b, col0, j), plan.b_n)
                        value = b.load(element_gep(b, source, index_add(b, row, col), self.ty), typ=self.ty)
                    b.store(value, element_gep(b, target, j, self.ty))

        with cg.for_range(full_panels, name="pj") as panel:
            copy_panel(panel, tile.nr)
        if tail:
            has_tail = b.icmp_signed("!=", b.urem(nc, int_const(tile.nr)), int_const(0))
            with b.if_then(has_tail):
                copy_panel(full_panels, tail)

    # -- the micro-kernel --

    def _micro(self, a, c, m0, rows: int, panels, pc, kc, first, jc, panel_pointer) -> None:
        """C[m0:m0+rows, panel columns] (+)= A[m0:m0+rows, pc:pc+kc] . panels."""
        b, tile = self.cg.builder, self.tile
        vty = self.vty
        # Per panel: its packed pointer, its first column, its vectors and valid columns.
        layout = []
        for panel, columns in panels:
            vectors = -(-columns // tile.lanes)
            col0 = index_add(b, jc, index_mul(b, panel, tile.nr))
            layout.append((panel_pointer(panel), col0, vectors, columns))
        # The tile's row indices, built here where they dominate all of the tile's code.
        self._tile_m = [index_add(b, m0, r) for r in range(rows)]
        self._begin_tile()
        c_rows = self._c_rows(c, m0, rows)

        def c_vector(r, col0, v, columns):
            pointer = element_gep(b, c_rows[r], index_add(b, col0, v * tile.lanes), self.ty)
            valid = min(tile.lanes, columns - v * tile.lanes)
            return pointer, valid

        zero = ir.Constant(vty, [0.0] * tile.lanes)
        initial = []
        for r in range(rows):
            for pointer, col0, vectors, columns in layout:
                for v in range(vectors):
                    if isinstance(first, ir.Constant) and first.constant:
                        initial.append(zero)  # the first K block: nothing to load
                        continue
                    address, valid = c_vector(r, col0, v, columns)
                    if valid == tile.lanes:
                        loaded = b.load(address, typ=vty, align=self.eb)
                    else:
                        loaded = zero
                        for lane in range(valid):
                            x = b.load(element_gep(b, address, lane, self.ty), typ=self.ty)
                            loaded = b.insert_element(loaded, x, ir.Constant(I32, lane))
                    initial.append(b.select(first, zero, loaded))
        final = self._accumulate(a, m0, rows, pc, kc, layout, initial)

        def store_tile():
            i = 0
            for r in range(rows):
                for pointer, col0, vectors, columns in layout:
                    for v in range(vectors):
                        address, valid = c_vector(r, col0, v, columns)
                        if valid == tile.lanes:
                            b.store(final[i], address, align=self.eb)
                        else:
                            for lane in range(valid):
                                x = b.extract_element(final[i], ir.Constant(I32, lane))
                                b.store(x, element_gep(b, address, lane, self.ty))
                        i += 1

        if self._epilogue is None:
            store_tile()
            return
        batch_index, last = self._final
        if isinstance(last, ir.Constant) and last.constant:
            self._epilogue_tile(final, m0, rows, layout, batch_index)
            return
        with b.if_else(last) as (final_block, partial_block):
            with final_block:
                self._epilogue_tile(final, m0, rows, layout, batch_index)
            with partial_block:
                store_tile()

    def _begin_tile(self) -> None:
        """Hook at the start of each micro-tile (its rows are `self._tile_m`): where a
        subclass computes what the tile's rows share, once for the whole tile."""

    def _epilogue_tile(self, final, m0, rows: int, layout, batch_index) -> None:
        """Store the finished micro-tile through the fusion's epilogue, one panel's part
        of the tile at a time: its vectors go to a stack tile (`_scratch`), and a loop
        over its rows runs the epilogue on each row (a loop of columns, which LLVM
        unrolls and vectorizes). One loop for all rows keeps the epilogue's code once
        per tile shape instead of MR times (LeNet's dense layer fusions: 559 -> 333
        instructions for LLVM). With a short K (below MIN_ROLLED_EPILOGUE_K), where the
        reload from the stack would show, the rows are unrolled and LLVM keeps each row
        in registers. No element of C is read back, so the epilogue never reloads what it
        stores."""
        cg, b, tile = self.cg, self.cg.builder, self.tile
        scratch = self._scratch()
        per_row = sum(vectors for _, _, vectors, _ in layout)  # final[]: row-major, panels inner
        rolled = self.kc >= MIN_ROLLED_EPILOGUE_K
        first = 0  # the panel's first vector in a row of final[]
        for _, col0, vectors, columns in layout:
            for r in range(rows):
                row = element_gep(b, scratch, r * tile.nr if rolled else 0, self.ty)
                for v in range(vectors):
                    b.store(final[r * per_row + first + v],
                            element_gep(b, row, v * tile.lanes, self.ty), align=self.eb)
                if not rolled:
                    self._epilogue(self, batch_index, self._tile_m[r], col0, columns, row)
            if rolled:
                with cg.for_range(rows, name="er", rolled=True) as r:
                    row = element_gep(b, scratch, index_mul(b, r, tile.nr), self.ty)
                    self._epilogue(self, batch_index, index_add(b, m0, r), col0, columns, row)
            first += vectors

    def _scratch(self):
        """The stack tile of MR x NR elements the tile epilogue reads (one per function)."""
        if self._tile_row is None:
            self._tile_row = self.cg.alloca(ir.ArrayType(self.ty, self.tile.rows * self.tile.nr),
                                            name="gemm.tile")
            self._tile_row.align = BUFFER_ALIGNMENT
            self._tile_row.type = PTR  # an opaque pointer (IR text says `ptr` either way)
        return self._tile_row

    def _c_rows(self, c, m0, rows: int) -> list:
        """Pointers to rows m0 .. m0 + rows - 1 of C."""
        b, plan = self.cg.builder, self.plan
        return [element_gep(b, c, index_mul(b, index_add(b, m0, r), plan.c_m), self.ty) for r in range(rows)]

    def _accumulate(self, a, m0, rows: int, pc, kc, layout, initial) -> list:
        """The accumulators after k = pc .. pc + kc - 1 (A rows read in place)."""
        b, plan = self.cg.builder, self.plan
        row_pointers = [element_gep(b, a, index_add(b, index_mul(b, index_add(b, m0, r), plan.a_m), index_mul(b, pc, plan.a_k)),
                             self.ty) for r in range(rows)]
        return carried_loop(self.cg, kc, initial, self._step(layout, row_pointers, plan.a_k, 0), name="kk")

    def _step(self, layout, row_pointers, a_step: int, b_first):
        """One k of the micro-kernel: B row `b_first + k` of each panel in `layout` times
        element k of each A row (`row_pointers`, elements `a_step` apart), accumulated."""
        b, tile, vty = self.cg.builder, self.tile, self.vty
        fma = fmuladd(self.cg, vty)

        def step(k, accumulators):
            bvectors = []
            for pointer, _, vectors, _ in layout:
                row = element_gep(b, pointer, index_mul(b, index_add(b, b_first, k), tile.nr), self.ty)
                bvectors.append([b.load(element_gep(b, row, v * tile.lanes, self.ty), typ=vty,
                                        align=tile.lanes * self.eb) for v in range(vectors)])
            updated = []
            i = 0
            for pointer in row_pointers:
                x = b.load(element_gep(b, pointer, index_mul(b, k, a_step), self.ty), typ=self.ty)
                broadcast = splat(b, x, vty)
                for vectors in bvectors:
                    for vector in vectors:
                        updated.append(b.call(fma, [broadcast, vector, accumulators[i]]))
                        i += 1
            return updated

        return step


def gemm_element_type(inst: Instruction) -> ir.Type | None:
    """f32 or f64 dots go through the GEMM; others (integers, f16) do not."""
    t = inst.shape.element_type
    if not t.is_float:
        return None
    ty = register_type(t)
    return ty if ty in (F32, F64) else None


def epilogue_index(plan: GemmPlan, rank: int, b: ir.IRBuilder, dims_extents, batch_index,
                   m, n) -> list:
    """The output index of C[batch, m, n] (m and n unflattened into their dimensions)."""
    index = [None] * rank
    for position, value in zip(plan.batch_dims, batch_index):
        index[position] = value
    for dims, flat in ((plan.m_dims, m), (plan.n_dims, n)):
        remaining = flat
        for d in reversed(dims):
            extent = dims_extents[d]
            if d == dims[0]:
                index[d] = remaining if extent != 1 else int_const(0)
            elif extent == 1:
                index[d] = int_const(0)
            else:
                index[d] = b.urem(remaining, int_const(extent))
                remaining = b.udiv(remaining, int_const(extent))
    return index


def prepare_gemm(target, inst: Instruction, constant_of, threads: int = 1) -> GemmEmitter | None:
    """The GEMM for float dot `inst`, or None where it does not apply: other types,
    layouts that do not flatten, N below a vector, or a skinny dot with B fed
    (emitter.emit_dot's loop serves those). constant_of(operand) is the constant
    instruction an operand is, or None; `threads` the tasks worth having at least."""
    ty = gemm_element_type(inst)
    plan = plan_gemm(inst) if ty is not None else None
    if plan is None:
        return None
    tile = choose_tile(target, 4 if ty == F32 else 8)
    constant = constant_of(inst.operands[1 - plan.a]) is not None
    if plan.n < tile.lanes or (not constant and plan.m < tile.rows):
        return None
    return GemmEmitter(plan, tile, ty, constant, threads)


def emit_gemm(em, inst: Instruction, after_row=None) -> bool:
    """Emit float dot `inst` as a packed GEMM; False (nothing emitted) where
    `prepare_gemm` says it does not apply.

    `em` is the entry emitter or a fusion scope. In the entry, the GEMM is a kernel
    function whose tasks run on the caller's pool (backends/cpu/tasks.py). In a fusion,
    it runs task `em.task` of the fusion's kernel (every task when that is None), and
    after_row, when given, is the fusion's Epilogue: `after_row.apply(index, value)`
    stores the output element at `index` from the dot's element `value` (a register
    value), for each element of each finished micro-tile.
    """
    gemm = prepare_gemm(em.target, inst, em.constant_operand, em.threads)
    if gemm is None:
        return False
    plan, tile = gemm.plan, gemm.tile
    b_operand = inst.operands[1 - plan.a]
    constant = em.constant_operand(b_operand)
    packed = None
    if constant is not None:
        literal = np.asarray(constant.attrs["literal"], dtype=constant.shape.element_type.np_dtype)
        literal = literal.reshape(constant.shape.dims)
        key = ("gemm", constant, tile.nr, plan.a, tuple(map(tuple, dot_dimensions(inst))))
        packed = em.constants.raw(key, lambda: pack_constant(plan, literal, inst, tile),
                                  f"packed.{constant.name}")
    pointers = [em.pointer_of(inst), em.pointer_of(inst.operands[plan.a])]
    if constant is None:
        pointers.append(em.pointer_of(b_operand))

    def index_of(_emitter, batch_index, m, n):
        return epilogue_index(plan, inst.shape.rank, em.cg.builder, inst.shape.dims,
                              batch_index, m, n)

    emit_tasks(em, inst, gemm, pointers, packed, after_row, index_of)
    return True


def emit_tasks(em, inst: Instruction, gemm: GemmEmitter, pointers: list, packed, after_row,
               index_of) -> None:
    """Emit `gemm` (C, A and, when fed, B at `pointers`; a constant B at `packed`): in the
    entry, as a kernel function whose tasks run on the caller's pool; in a fusion, as
    task `em.task` of the fusion's kernel, each finished micro-tile stored through
    `after_row.apply(index, value)` (the fusion's Epilogue) when given
    (index_of(emitter, batch_index, m, n) is the output index of C[batch, m, n] of the
    GemmEmitter `emitter` running the tile)."""
    fed = len(pointers) > 2
    slot_bytes = gemm.pack_bytes if fed else 0
    if em.in_entry:
        if slot_bytes:  # the scratch buffer assignment reserved: one slot per running task
            pointers = [*pointers, em.scratch_pointer(inst, slot_bytes, gemm.tasks)]
        kernel, cg = task_kernel(em.llvm_module, f"gemm.{inst.name}", len(pointers),
                                 em.target, BUFFER_ALIGNMENT)
        args = list(kernel.args)
        if slot_bytes:
            gemm.scratch = scratch_slot(cg.builder, args[3], args[-2], slot_bytes)
        gemm.emit(cg, args[0], args[1], args[2] if fed else None, packed, None, task=args[-1])
        cg.builder.ret_void()
        em.run_tasks(kernel, pointers, gemm.tasks)
        return
    cg, b = em.cg, em.cg.builder
    if slot_bytes:
        gemm.scratch = scratch_slot(b, em.scratch_in_kernel(slot_bytes, gemm.tasks), em.slot,
                                    slot_bytes)
    epilogue = None
    if after_row is not None:  # a fusion's Epilogue: applied to each finished tile row

        def epilogue(emitter, batch_index, m, col0, columns, row):
            with cg.for_range(columns, name="et") as col:
                hero = b.load(element_gep(b, row, col, emitter.ty), typ=emitter.ty)
                after_row.apply(index_of(emitter, batch_index, m, index_add(b, col0, col)), hero)

    gemm.emit(cg, pointers[0], pointers[1], pointers[2] if fed else None, packed, epilogue,
              task=em.task)


__all__ = ["carried_loop", "element_gep", "fmuladd", "rows_dividing", "splat", "index_add", "index_mul", "emit_gemm", "emit_tasks", "panels", "prepare_gemm", "GemmEmitter", "GemmPlan", "Tile", "choose_tile", "epilogue_index",
           "gemm_element_type", "pack_constant", "plan_gemm", "vector_registers"]
