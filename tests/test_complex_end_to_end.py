"""Complex values end to end: a graph with a complex64 feed and complex64 and float32
fetches compiled with the CLI, run from C++ through std::complex<float>, from C11
through float _Complex (the same bytes), and from Python through aotc.load, against
TensorFlow.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import tensorflow as tf

import aotc
from conftest import build_cpp, run_aotc, run_program

CONFIG = """
feed { id { node_name: "z" } shape { dim { size: 2 } dim { size: 8 } } name: "z" }
feed { id { node_name: "gain" } shape { dim { size: 8 } } name: "gain" }
fetch { id { node_name: "spectrum" } name: "spectrum" }
fetch { id { node_name: "magnitude" } name: "magnitude" }
"""

#: An 8-point FFT of inputs in [-1, 1]: each bin sums 8 products, computed in f32 by
#: TensorFlow and aotc alike (8 * 2^-24 per unit of input, four times over).
TOL = 4 * 8 * 2.0 ** -24 * 2


def _graph(z, gain):
    filtered = z * tf.complex(gain, tf.zeros_like(gain))
    spectrum = tf.signal.fft(filtered)
    return tf.identity(spectrum, name="spectrum"), tf.abs(spectrum, name="magnitude")


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    work = tmp_path_factory.mktemp("complex")
    rng = np.random.default_rng(5)
    z = (rng.uniform(-1, 1, (2, 8)) + 1j * rng.uniform(-1, 1, (2, 8))).astype(np.complex64)
    gain = rng.uniform(-1, 1, 8).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        zp = tf.compat.v1.placeholder(tf.complex64, [2, 8], name="z")
        gp = tf.compat.v1.placeholder(tf.float32, [8], name="gain")
        outputs = _graph(zp, gp)
        with tf.compat.v1.Session() as sess:
            expected = sess.run(list(outputs), {zp: z, gp: gain})
    (work / "graph.pb").write_bytes(graph.as_graph_def().SerializeToString())
    (work / "config.pbtxt").write_text(CONFIG)
    out = work / "out"
    run_aotc("compile", work / "graph.pb", work / "config.pbtxt", "--cpp_class",
             "dsp::Spectrum", "--name", "spectrum", "-o", out, check=True)
    return {"dir": out, "work": work, "inputs": (z, gain), "expected": expected}


def _check(spectrum, magnitude, expected):
    assert spectrum.dtype == np.complex64 and magnitude.dtype == np.float32
    np.testing.assert_allclose(spectrum, expected[0], rtol=TOL, atol=TOL)
    np.testing.assert_allclose(magnitude, expected[1], rtol=TOL, atol=TOL)


def test_metadata_and_header_speak_complex(artifact):
    header = (artifact["dir"] / "spectrum.h").read_text()
    assert "#include <complex>" in header
    assert "std::complex<float>* arg_z_data()" in header
    assert "std::complex<float>* result_spectrum_data()" in header
    assert "float* result_magnitude_data()" in header


def test_complex_signature_from_python(artifact):
    model = aotc.load(artifact["dir"])
    spectrum, magnitude = model(*artifact["inputs"])
    _check(spectrum, magnitude, artifact["expected"])
    with pytest.raises(Exception, match="complex64"):
        model(artifact["inputs"][0].real.copy(), artifact["inputs"][1])


CPP = r"""
#include <complex>
#include <cstdio>
#include "spectrum.h"

int main(int argc, char** argv) {
  (void)argc;
  dsp::Spectrum model;
  std::FILE* in = std::fopen(argv[1], "rb");
  if (std::fread(model.arg_z_data(), sizeof(std::complex<float>), 16, in) != 16) return 2;
  if (std::fread(model.arg_gain_data(), sizeof(float), 8, in) != 8) return 2;
  std::fclose(in);
  if (!model.Run()) return 3;
  std::complex<float> first = model.result_spectrum(0, 0);  // an element accessor
  if (first != model.result_spectrum_data()[0]) return 4;
  std::FILE* out = std::fopen(argv[2], "wb");
  std::fwrite(model.result_spectrum_data(), sizeof(std::complex<float>), 16, out);
  std::fwrite(model.result_magnitude_data(), sizeof(float), 16, out);
  std::fclose(out);
  return 0;
}
"""

C11 = r"""
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "spectrum.h"

int main(int argc, char** argv) {
  float complex* z = aligned_alloc(64, 16 * sizeof(float complex));
  float* gain = aligned_alloc(64, 64);
  float complex* spectrum = aligned_alloc(64, 16 * sizeof(float complex));
  float* magnitude = aligned_alloc(64, 64);
  void* temps = aligned_alloc(64, SPECTRUM_TEMP_BYTES > 0 ? (SPECTRUM_TEMP_BYTES + 63) / 64 * 64 : 64);
  FILE* in = fopen(argv[1], "rb");
  (void)argc;
  if (fread(z, sizeof(float complex), 16, in) != 16) return 2;
  if (fread(gain, sizeof(float), 8, in) != 8) return 2;
  fclose(in);
  {
    void* args[2];
    void* results[2];
    FILE* out;
    args[0] = z;
    args[1] = gain;
    results[0] = spectrum;
    results[1] = magnitude;
    if (spectrum_entry(args, results, temps, NULL) != AOTC_OK) return 3;
    /* the same bytes as std::complex: C's own modulus agrees */
    if (fabsf(cabsf(spectrum[0]) - magnitude[0]) > 1e-5f * magnitude[0]) return 4;
    out = fopen(argv[2], "wb");
    fwrite(spectrum, sizeof(float complex), 16, out);
    fwrite(magnitude, sizeof(float), 16, out);
    fclose(out);
  }
  return 0;
}
"""


def _outputs(path):
    data = path.read_bytes()
    spectrum = np.frombuffer(data[:128], np.complex64).reshape(2, 8)
    return spectrum, np.frombuffer(data[128:], np.float32).reshape(2, 8)


def _write_inputs(artifact, path):
    z, gain = artifact["inputs"]
    path.write_bytes(z.tobytes() + gain.tobytes())


def test_complex_signature_from_cpp(artifact, tmp_path):
    out = artifact["dir"]
    (tmp_path / "main.cc").write_text(CPP)
    exe = build_cpp([tmp_path / "main.cc"], tmp_path / "main", include=[out],
                    objects=[out / "spectrum.o"])
    _write_inputs(artifact, tmp_path / "in.bin")
    run_program(exe, tmp_path / "in.bin", tmp_path / "out.bin")
    _check(*_outputs(tmp_path / "out.bin"), artifact["expected"])


def test_complex_signature_from_c11(artifact, tmp_path):
    out = artifact["dir"]
    (tmp_path / "main.c").write_text(C11)
    exe = tmp_path / "main_c"
    cmd = ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", f"-I{out}",
           str(tmp_path / "main.c"), str(out / "spectrum.o"), "-lm", "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    _write_inputs(artifact, tmp_path / "in.bin")
    run_program(exe, tmp_path / "in.bin", tmp_path / "out.bin")
    _check(*_outputs(tmp_path / "out.bin"), artifact["expected"])


def test_complex_op_without_an_expansion_is_a_clean_cli_error(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        z = tf.compat.v1.placeholder(tf.complex64, [3], name="z")
        tf.reduce_prod(z, name="product")
    (tmp_path / "graph.pb").write_bytes(graph.as_graph_def().SerializeToString())
    (tmp_path / "config.pbtxt").write_text(
        'feed { id { node_name: "z" } shape { dim { size: 3 } } }\n'
        'fetch { id { node_name: "product" } }\n')
    proc = run_aotc("compile", tmp_path / "graph.pb", tmp_path / "config.pbtxt",
                    "--cpp_class", "P", "-o", tmp_path / "out")
    assert proc.returncode == 1
    assert "node 'product'" in proc.stderr and "only sums reduce complex values" in proc.stderr
    assert "Traceback" not in proc.stderr
