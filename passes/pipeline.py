"""Pass pipelines (XLA's HloPassPipeline).

A pipeline checks its input with the verifier, runs its passes in order and checks the
module again at the end, so a broken module never reaches a backend. With the environment
variable AOTC_VERIFY_PASSES=1 (the test suite sets it; XLA does the same in debug builds)
it verifies after every pass that changed the module instead, so that a pass that breaks
the IR is named at once; that costs a verifier walk per pass, a sizeable part of a big
model's compile. On request it dumps the module before the first pass and after every
pass, and it can repeat its passes until none of them changes anything.
"""

from __future__ import annotations

import os
from typing import Sequence

from aotc import progress

from ..hlo.ir import Module
from ..hlo.verifier import verify
from .complex_expansion import ComplexExpansion
from .constant_folding import ConstantFolding
from .cse import CommonSubexpressionElimination
from .dce import DeadCodeElimination
from .dump import dump_module
from .fusion import InstructionFusion
from .inline import CallInliner
from .pass_base import ModulePass
from .simplifier import AlgebraicSimplifier


class PassPipelineError(RuntimeError):
    """A pass left a module that the verifier rejects (or the input was already invalid)."""

    def __init__(self, message: str, pass_name: str | None):
        super().__init__(message)
        self.pass_name = pass_name


def verify_each_pass() -> bool:
    """Whether pipelines verify after every pass (AOTC_VERIFY_PASSES set, not "0")."""
    return os.environ.get("AOTC_VERIFY_PASSES", "0") not in ("", "0")


class Pipeline(ModulePass):
    """Runs `passes` in order, verifying after each one that changed the module;
    optionally to a fixed point.

    dump_dir: when set, `00-input.hlo` is written before the first pass and
        `NN-<pass>.hlo` / `NN-<pass>.dot` after every pass run, NN counting up across
        fixed-point iterations. A pipeline that is a pass of another (a stage) dumps
        after each of its own passes into its parent's directory, continuing the count.
    fixed_point: repeat the whole sequence until an iteration changes nothing, at most
        `max_iterations` times.
    verify: turn the verifier off (for tests of broken modules; the compiler keeps it on).
    `timed(stage)` makes the pipeline time its runs as stage `stage` of the current
    compile's progress (aotc/progress.py).
    """

    def __init__(self, name: str, passes: Sequence[ModulePass], *, dump_dir=None,
                 fixed_point: bool = False, max_iterations: int = 16, verify: bool = True):
        self.name = name
        self.passes = list(passes)
        self.dump_dir = dump_dir
        self.fixed_point = fixed_point
        self.max_iterations = max_iterations
        self.verify = verify
        self.stage: str | None = None
        self._dump_index = 0

    def timed(self, stage: str) -> "Pipeline":
        """Time this pipeline's runs as `stage` of the compile's progress; returns self."""
        self.stage = stage
        return self

    def run(self, module: Module) -> bool:
        self._dump_index = 0
        self._check(module, None, "the input")
        self._dump(module, "input")
        changed = self._iterate(module)
        if changed and not verify_each_pass():
            self._check(module, None, "the passes (set AOTC_VERIFY_PASSES=1 to name the pass)")
        return changed

    def _run_as_stage(self, parent: "Pipeline", module: Module) -> bool:
        """Run nested in `parent`: the input is already verified, and dumps continue the
        parent's numbering in the parent's directory (one sequence of NN-pass files)."""
        own_dir = self.dump_dir
        self.dump_dir, self._dump_index = parent.dump_dir, parent._dump_index
        try:
            return self._iterate(module)
        finally:
            parent._dump_index = self._dump_index
            self.dump_dir = own_dir

    def _iterate(self, module: Module) -> bool:
        if self.stage is None:
            return self._iterate_untimed(module)
        with progress.current().stage(self.stage):
            return self._iterate_untimed(module)

    def _iterate_untimed(self, module: Module) -> bool:
        changed = False
        iterations = self.max_iterations if self.fixed_point else 1
        for iteration in range(1, iterations + 1):
            changed_now = self._run_once(module, iteration)
            changed |= changed_now
            if not changed_now:
                break
        return changed

    def _run_once(self, module: Module, iteration: int) -> bool:
        changed = False
        each_pass = verify_each_pass()
        for p in self.passes:
            nested = isinstance(p, Pipeline)
            if not nested:
                progress.current().step(f"pass {p.name}")
            try:
                changed_by_pass = p._run_as_stage(self, module) if nested else p.run(module)
            except Exception as error:
                error.add_note(f"while running pass '{p.name}' of pipeline '{self.name}' "
                               f"(iteration {iteration})")
                raise
            changed |= bool(changed_by_pass)
            # A pass that reports no change left the (already verified) module as it was;
            # skipping the verifier then halves its cost in fixed-point runs.
            if each_pass and changed_by_pass and not (nested and p.verify):  # nested: verified
                where = f"pass '{p.name}'" + (f" (iteration {iteration})" if self.fixed_point else "")
                self._check(module, p.name, where)
            if not nested:  # a nested pipeline dumped after each of its own passes
                self._dump(module, p.name)
        return changed

    def _check(self, module: Module, pass_name: str | None, where: str) -> None:
        if not self.verify:
            return
        try:
            verify(module)
        except Exception as error:
            culprit = "is invalid" if pass_name is None else "produced an invalid module"
            raise PassPipelineError(
                f"pipeline '{self.name}': {where} {culprit}: {error}", pass_name
            ) from error

    def _dump(self, module: Module, label: str) -> None:
        if self.dump_dir is None:
            return
        dump_module(self.dump_dir, self._dump_index, label, module)
        self._dump_index += 1


def default_pipeline(dump_dir=None, *, max_constant_elements: int = 1024,
                     fusion: bool = True) -> Pipeline:
    """The optimization pipeline the driver runs before layout, scheduling and buffer
    assignment: call inlining; complex values expanded into real pairs (so no later pass
    and no backend sees a complex type); simplification, constant folding, CSE and DCE
    repeated to a fixed point; then (unless `fusion` is false) instruction fusion, once,
    and DCE."""
    simplify = Pipeline(
        "simplify",
        [
            AlgebraicSimplifier(),
            ConstantFolding(max_elements=max_constant_elements),
            CommonSubexpressionElimination(),
            DeadCodeElimination(),
        ],
        fixed_point=True,
    )
    fuse = [InstructionFusion(), DeadCodeElimination()] if fusion else []
    return Pipeline("optimize", [CallInliner(), ComplexExpansion(), simplify, *fuse],
                    dump_dir=dump_dir)
