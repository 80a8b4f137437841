"""aotc.passes: HLO -> HLO passes, the pass pipeline, and buffer assignment."""

from .buffer_assignment import BufferAssignment, BufferSlice, assign_buffers
from .constant_folding import ConstantFolding
from .cse import CommonSubexpressionElimination
from .dce import DeadCodeElimination
from .fusion import InstructionFusion
from .inline import CallInliner
from .pass_base import ComputationPass, ModulePass
from .pipeline import PassPipelineError, Pipeline, default_pipeline
from .simplifier import AlgebraicSimplifier

__all__ = [
    "BufferAssignment", "BufferSlice", "assign_buffers", "ConstantFolding",
    "CommonSubexpressionElimination", "DeadCodeElimination", "ComputationPass", "ModulePass",
    "PassPipelineError", "Pipeline", "default_pipeline", "AlgebraicSimplifier",
    "CallInliner", "InstructionFusion",
]
