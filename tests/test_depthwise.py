"""Depthwise convolution with pixels x channels in registers (backends/cpu/depthwise.py)
against the NumPy evaluator.

One module holds every case: channel counts below, at and around the vector blocks
(scalar tails), strides 1-3, SAME/VALID/asymmetric padding, window dilation, lines
shorter than, equal to and just past a pixel block, batch 2, 1-D and 3-D windows, a fed
kernel, and fused bias + ReLU6 epilogues; channel multipliers above 1 (the direct loops)
beside them. Compiled for the host, x86 with only AVX2 and with only SSE2 (the portable
path), and run for aarch64 under qemu.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotc.backends.cpu.depthwise import depthwise_tasks
from aotc.hlo.builder import Builder
from aotc.hlo.window import WindowDim

from compiled import Compiled
from conv_cases import (X86_FEATURES, check_on_x86, check_under_qemu, convolution_case,
                        convolutions, fused_module)

# (input dims, kernel spatial, multiplier, stride, (pad_lo, pad_hi), window dilation,
#  kernel "const"/"fed", fused epilogue)
CASES = [
    ((1, 9, 10, 16), (3, 3), 1, 1, (1, 1), 1, "const", False),
    ((2, 7, 8, 21), (3, 3), 1, 2, (0, 1), 1, "const", True),
    ((1, 6, 6, 3), (5, 5), 1, 1, (2, 2), 2, "fed", False),
    ((1, 13, 5, 48), (3, 3), 1, 3, (1, 1), 1, "const", True),
    ((1, 5, 4, 7), (3, 3), 1, 1, (0, 0), 1, "const", False),
    ((1, 8, 9, 33), (2, 3), 1, 1, (1, 0), 1, "fed", True),
    ((1, 3, 17, 8), (3, 3), 1, 2, (1, 1), 1, "const", False),
    ((1, 4, 4, 2), (1, 1), 1, 1, (0, 0), 1, "const", False),
    ((1, 11, 40), (3,), 1, 1, (1, 1), 1, "const", True),
    ((1, 4, 5, 4, 9), (2, 3, 2), 1, 1, (1, 0), 1, "const", False),
    ((1, 7, 6, 4), (3, 3), 2, 1, (1, 1), 1, "const", False),  # multiplier 2: direct loops
]


def _module(cases, seed=0):
    rng = np.random.default_rng(seed)
    b = Builder("depthwise_edges")
    outs, args = [], []
    for dims, kernel, multiplier, stride, (low, high), dilation, weight, fused in cases:
        channels = dims[-1]
        window = [WindowDim(size=k, stride=stride, padding_low=low, padding_high=high,
                            window_dilation=dilation) for k in kernel]
        outs.append(convolution_case(b, rng, args, dims, (*kernel, 1, channels * multiplier),
                                     weight, window, fused, feature_group_count=channels))
    return b.module(b.tuple(outs)), args


@pytest.fixture(scope="module")
def fused():
    return fused_module(*_module(CASES))


def test_cases_take_the_register_blocked_loops():
    module, _ = _module(CASES)
    taken = [depthwise_tasks(i) is not None for i in convolutions(module)]
    assert taken == [case[2] == 1 for case in CASES]


@X86_FEATURES
def test_edges_on_x86(fused, features):
    check_on_x86(*fused, features)


def test_edges_on_aarch64_under_qemu(fused, tmp_path):
    check_under_qemu(*fused, tmp_path)


def test_avx512_object_compiles(fused):
    """The AVX-512 blocks (16 lanes, 8 pixels) are emitted and assembled (this host may
    not run them)."""
    module, _, _ = fused
    compiled = Compiled(module, triple="x86_64-unknown-linux-gnu", cpu="skylake-avx512",
                        features="+avx512f,+avx2,+fma,+avx")
    assert compiled.artifact.object_code
