"""Convolutions with one input feature and few output features, vectorized along the
output line (backends/cpu/line_conv.py), against the NumPy evaluator.

One module holds every case: lines shorter than, equal to and just past a vector (4, 8
and 16 lanes), SAME/VALID/asymmetric padding and padding wider than the window reaches,
window dilation, strides across lines (the line itself is stride 1), 1 to 8 output
features, batch 2, 1-D and 3-D windows, a fed kernel, and a fused bias + ReLU6 epilogue.
Compiled for the host, x86 with only AVX2 and with only SSE2, and run for aarch64 under
qemu.
"""

from __future__ import annotations

import numpy as np
import pytest

from aotc.backends.cpu.line_conv import line_conv_tasks
from aotc.hlo.builder import Builder
from aotc.hlo.window import WindowDim

from conv_cases import (X86_FEATURES, check_on_x86, check_under_qemu, convolution_case,
                        convolutions, fused_module)

# (input dims (one feature), kernel spatial, output features, [(stride, pad_lo, pad_hi,
#  window dilation)] per spatial dimension, kernel "const"/"fed", fused epilogue)
CASES = [
    ((8, 28, 28, 1), (5, 5), 6, [(1, 2, 2, 1)] * 2, "const", True),  # LeNet's first layer
    ((1, 9, 17, 1), (3, 3), 5, [(1, 1, 1, 1)] * 2, "const", False),  # 17: a vector and one
    ((2, 6, 16, 1), (3, 3), 8, [(2, 0, 1, 1), (1, 1, 1, 1)], "fed", True),  # 16 lanes, stride 2 rows
    ((1, 5, 8, 1), (5, 5), 1, [(1, 0, 0, 1), (1, 0, 0, 1)], "const", False),  # VALID: 4 wide
    ((1, 7, 12, 1), (3, 3), 3, [(1, 2, 2, 2)] * 2, "const", True),  # window dilation 2
    ((1, 4, 5, 1), (2, 7), 7, [(1, 1, 0, 1), (1, 3, 4, 1)], "fed", False),  # padding > line
    ((3, 33, 1), (4,), 2, [(1, 2, 1, 1)], "const", False),  # 1-D
    ((1, 3, 4, 9, 1), (2, 3, 3), 4, [(1, 0, 1, 1), (2, 1, 1, 1), (1, 1, 1, 1)], "const", True),  # 3-D
]


def _module(cases, seed=0):
    rng = np.random.default_rng(seed)
    b = Builder("line_conv_edges")
    outs, args = [], []
    for dims, kernel, features, window, weight, fused in cases:
        windows = [WindowDim(size=k, stride=s, padding_low=lo, padding_high=hi,
                             window_dilation=wd) for k, (s, lo, hi, wd) in zip(kernel, window)]
        outs.append(convolution_case(b, rng, args, dims, (*kernel, 1, features), weight,
                                     windows, fused))
    return b.module(b.tuple(outs)), args


@pytest.fixture(scope="module")
def fused():
    return fused_module(*_module(CASES))


def test_cases_take_the_line_loops():
    module, _ = _module(CASES)
    assert all(line_conv_tasks(i) is not None for i in convolutions(module))


@X86_FEATURES
def test_edges_on_x86(fused, features):
    check_on_x86(*fused, features)


def test_edges_on_aarch64_under_qemu(fused, tmp_path):
    check_under_qemu(*fused, tmp_path)

