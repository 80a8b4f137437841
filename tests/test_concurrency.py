"""Generated code run from many threads at once (tests/zoo.py, tests/zoo_harness.cc).

- C++: for each model of the zoo (batch 1, --threads 4), 8 threads each with its own
  instance of the generated class (every other one on a thread pool that those threads
  share) run it many times on the same inputs; every result must be byte-identical to a
  single-threaded reference run. The harness is built with ASan and UBSan.
- Python: one `aotc.load` model shared by 8 Python threads, each calling it many times
  with its own inputs; every result must equal that of a sequential call.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import aotc
from zoo import BUILDERS, run_harness

THREADS, ITERATIONS = 8, 200


@pytest.mark.parametrize("name", list(BUILDERS))
def test_instances_in_threads(zoo, name, tmp_path):
    model = zoo[name]
    stdout = run_harness(model, tmp_path, "threads", THREADS, ITERATIONS)
    assert f"runs {THREADS * ITERATIONS} mismatches 0 failures 0" in stdout, stdout
    for got, expected in zip(model.read_results(tmp_path), model.expected):
        np.testing.assert_allclose(got, expected, **model.tolerance)


@pytest.mark.parametrize("name", ["lstm", "text"])
def test_one_python_model_shared_by_threads(zoo, name):
    model = zoo[name]
    compiled = aotc.load(model.out)
    rng = np.random.default_rng(5)
    inputs = [model.inputs] + [[_perturbed(x, rng) for x in model.inputs]
                               for _ in range(THREADS - 1)]
    sequential = [_as_list(compiled(*xs)) for xs in inputs]

    def worker(t):
        results = []
        for _ in range(ITERATIONS):
            results.append(_as_list(compiled(*inputs[t])))
        return results

    with ThreadPoolExecutor(THREADS) as pool:
        per_thread = list(pool.map(worker, range(THREADS)))
    for t, results in enumerate(per_thread):
        for result in results:
            for got, expected in zip(result, sequential[t]):
                np.testing.assert_array_equal(got, expected)
    # And the sequential answers are the model's: thread 0 sees the original inputs.
    for got, expected in zip(sequential[0], model.expected):
        np.testing.assert_allclose(got, expected, **model.tolerance)


def _perturbed(x: np.ndarray, rng) -> np.ndarray:
    """Thread-specific inputs of the same kind (token ids stay in the vocabulary)."""
    if np.issubdtype(x.dtype, np.integer):
        return rng.permutation(x.reshape(-1)).reshape(x.shape).astype(x.dtype)
    return (x + rng.standard_normal(x.shape).astype(x.dtype) * 0.1).astype(x.dtype)


def _as_list(result):
    return [np.copy(r) for r in (result if isinstance(result, tuple) else [result])]
