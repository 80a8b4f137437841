"""aotc: backends/cpu. LLVM IR emission with llvmlite, optimization, object code for any
LLVM triple. `CpuBackend` is the backend contract's implementation (registered as "cpu");
`compile_module` is the code generator underneath, for tests that drive it directly."""

from .compiler import CpuArtifact, compile_module, default_triple
from . import convolution  # noqa: F401  (registers convolution, reduce-window)
from . import indexing  # noqa: F401  (registers gather, scatter, dynamic slices, sort)
from . import control_flow  # noqa: F401  (registers while, conditional)
from . import fusion_emitter  # noqa: F401  (registers fusion)
from . import reduction  # noqa: F401  (registers reduce: several accumulators per row)
from . import scan  # noqa: F401  (registers reduce-window: scans as running folds)
from .backend import CpuBackend

__all__ = ["CpuArtifact", "CpuBackend", "compile_module", "default_triple"]
