"""The launch plan: what the host does to run a module on the GPU, in order.

A plan is a list of steps:
- `Launch`: one kernel over its grid. Kernels of the entry computation take the entry's
  buffers (args, results, the temp arena); kernels of a computation that a while or
  conditional calls take that computation's buffers, which are places in the entry's
  (`params`, as `BufferRef`s).
- `WhileLoop`: run `condition`, read the predicate back from the device, and while it
  holds run `body` (whose last kernels copy the next state into the state buffers).
- `Conditional`: read the selector back and run one branch (pred: true is branch 0; an
  index outside [0, N) runs the last branch, as in XLA).

`emit_plan` turns a plan into host LLVM IR, given how to launch a kernel and how to read
device memory: the CUDA driver (host_driver.py) and the host grid runner
(grid_runner.py) share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Union

import llvmlite.ir as ir

from aotc.backends.cpu.llvm_types import I8, I32


@dataclass(frozen=True)
class BufferRef:
    """A place in the entry's buffers: `offset` bytes into arg/result `index`, into the
    temp arena ("temp"), or into the constants global ("constant")."""

    kind: str
    index: int = 0
    offset: int = 0

    def shifted(self, offset: int) -> "BufferRef":
        return BufferRef(self.kind, self.index, self.offset + offset)


@dataclass(frozen=True)
class Launch:
    """One kernel launch: the kernel's symbol, its geometry, and its buffers (None: the
    entry's own, in order)."""

    kernel: str
    grid: int
    block: int
    instruction: str  # the HLO instruction it computes (for dumps and reports)
    params: tuple[BufferRef, ...] | None = None


@dataclass(frozen=True)
class WhileLoop:
    instruction: str
    condition: tuple
    predicate: BufferRef  # a pred (one byte)
    body: tuple


@dataclass(frozen=True)
class Conditional:
    instruction: str
    selector: BufferRef
    selector_is_pred: bool
    branches: tuple  # of plans


Step = Union[Launch, WhileLoop, Conditional]


def launches(plan) -> list[Launch]:
    """Every Launch of `plan`, nested ones included."""
    found = []
    for step in plan:
        if isinstance(step, Launch):
            found.append(step)
        elif isinstance(step, WhileLoop):
            found += launches(step.condition) + launches(step.body)
        else:
            for branch in step.branches:
                found += launches(branch)
    return found


class PlanOps(Protocol):
    """What emit_plan needs from the host code it is emitted into."""

    def launch(self, b: ir.IRBuilder, step: Launch) -> None: ...

    def read(self, b: ir.IRBuilder, ref: BufferRef, ty: ir.Type) -> ir.Value:
        """A scalar of type `ty` at `ref`, once all work launched so far is done."""


def emit_plan(fn: ir.Function, b: ir.IRBuilder, plan, ops: PlanOps) -> None:
    """Host code running `plan` at the builder's position."""
    for step in plan:
        if isinstance(step, Launch):
            ops.launch(b, step)
        elif isinstance(step, WhileLoop):
            header = fn.append_basic_block(f"{step.instruction}.header")
            body = fn.append_basic_block(f"{step.instruction}.body")
            exit_ = fn.append_basic_block(f"{step.instruction}.exit")
            b.branch(header)
            b.position_at_end(header)
            emit_plan(fn, b, step.condition, ops)
            holds = b.icmp_unsigned("!=", ops.read(b, step.predicate, I8), ir.Constant(I8, 0))
            b.cbranch(holds, body, exit_)
            b.position_at_end(body)
            emit_plan(fn, b, step.body, ops)
            b.branch(header)
            b.position_at_end(exit_)
        else:
            _emit_conditional(fn, b, step, ops)


def _emit_conditional(fn: ir.Function, b: ir.IRBuilder, step: Conditional, ops: PlanOps) -> None:
    if step.selector_is_pred:
        taken = b.icmp_unsigned("!=", ops.read(b, step.selector, I8), ir.Constant(I8, 0))
        selector = b.select(taken, ir.Constant(I32, 0), ir.Constant(I32, 1))
    else:
        selector = ops.read(b, step.selector, I32)
    blocks = [fn.append_basic_block(f"{step.instruction}.branch{k}")
              for k in range(len(step.branches))]
    merge = fn.append_basic_block(f"{step.instruction}.merge")
    switch = b.switch(selector, blocks[-1])
    for k, block in enumerate(blocks[:-1]):
        switch.add_case(ir.Constant(I32, k), block)
    for block, branch in zip(blocks, step.branches):
        b.position_at_end(block)
        emit_plan(fn, b, branch, ops)
        b.branch(merge)
    b.position_at_end(merge)
