"""Regenerate the HLO text examples in tests/data/hlo/ (needs jax and tensorflow).

Each case writes `<name>.hlo` (the module as JAX's `lower(...).as_text(dialect="hlo")` or
TensorFlow's `experimental_get_compiler_ir(...)(stage="hlo")` prints it) and `<name>.npz`
(`arg0`, `arg1`, ... and `result0`, ... as JAX or TensorFlow computed them), so that the
tests compare aotc against both without either installed.

    .venv/bin/python tools/gen_hlo_examples.py
"""

from __future__ import annotations

import os
import re

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "hlo")


def _save(name: str, text: str, args, results) -> None:
    # Metadata names the generating machine's site-packages; keep the text portable.
    text = re.sub(r'source_file="[^"]*site-packages/', 'source_file="', text)
    with open(os.path.join(OUT, f"{name}.hlo"), "w") as f:
        f.write(text if text.endswith("\n") else text + "\n")
    arrays = {f"arg{i}": np.asarray(a) for i, a in enumerate(args)}
    arrays.update({f"result{i}": np.asarray(r) for i, r in enumerate(results)})
    np.savez(os.path.join(OUT, f"{name}.npz"), **arrays)


def jax_cases(rng) -> None:
    import jax
    import jax.numpy as jnp
    from jax import lax

    def mlp(x, w1, b1, w2, b2):
        h = jax.nn.relu(x @ w1 + b1)
        return jnp.tanh(h @ w2 + b2), h.sum()

    def softmax(x):
        return (jax.nn.softmax(x, axis=-1),)

    def conv(x, k):
        y = lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return lax.reduce_window(y, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")

    def loop(x, n):
        def body(i, carry):
            return carry * 0.5 + jnp.sin(carry) + i.astype(carry.dtype)
        return lax.fori_loop(0, n, body, x)

    f32 = np.float32
    cases = {
        "jax_mlp": (mlp, [rng.standard_normal((4, 8)).astype(f32),
                          rng.standard_normal((8, 16)).astype(f32),
                          rng.standard_normal((16,)).astype(f32),
                          rng.standard_normal((16, 3)).astype(f32),
                          rng.standard_normal((3,)).astype(f32)]),
        "jax_softmax": (softmax, [rng.standard_normal((3, 10)).astype(f32)]),
        "jax_conv": (conv, [rng.standard_normal((2, 8, 8, 3)).astype(f32),
                            rng.standard_normal((3, 3, 3, 4)).astype(f32)]),
        "jax_while": (loop, [rng.standard_normal((5,)).astype(f32), np.int32(6)]),
    }
    for name, (fn, args) in cases.items():
        jitted = jax.jit(fn)
        text = jitted.lower(*args).as_text(dialect="hlo")
        results = jitted(*args)
        results = results if isinstance(results, tuple) else (results,)
        _save(name, text, args, results)


def tf_cases(rng) -> None:
    import tensorflow as tf

    f32 = np.float32

    # TensorFlow prints large constants as {...}: weights are arguments here.
    @tf.function(jit_compile=True)
    def dense(x, w):
        return tf.nn.softmax(tf.matmul(x, w) + 1.0)

    @tf.function(jit_compile=True)
    def loop(x):
        i = tf.constant(0)
        _, y = tf.while_loop(lambda i, y: i < 4, lambda i, y: (i + 1, tf.sqrt(y * y + 1.0)),
                             (i, x))
        return y, tf.reduce_max(y)

    cases = {
        "tf_dense": (dense, [rng.standard_normal((2, 6)).astype(f32),
                             rng.standard_normal((6, 5)).astype(f32)]),
        "tf_while": (loop, [rng.standard_normal((3, 2)).astype(f32)]),
    }
    for name, (fn, args) in cases.items():
        text = fn.experimental_get_compiler_ir(*args)(stage="hlo")
        results = fn(*args)
        results = results if isinstance(results, tuple) else (results,)
        _save(name, text, args, [r.numpy() for r in results])


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    jax_cases(np.random.default_rng(0))
    tf_cases(np.random.default_rng(1))
