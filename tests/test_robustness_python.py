"""The Python API with unusual input: serialized protos to aotc.compile, a file that is
not metadata to aotc.load, arrays in the other byte order."""

from __future__ import annotations

import numpy as np
import pytest

import aotc
from aotc.frontend.errors import FrontendError
from robustness import config, new_graph, node, placeholder


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """x - y, compiled from serialized protos (bytes in, as aotc.compile documents)."""
    g = new_graph()
    placeholder(g, "x", [2, 3])
    placeholder(g, "y", [2, 3])
    node(g, "d", "Sub", ["x", "y"])
    out = tmp_path_factory.mktemp("py") / "out"
    return aotc.compile(g.SerializeToString(),
                        config([("x", [2, 3]), ("y", [2, 3])], ["d"]).SerializeToString(),
                        out_dir=out, cpp_class="Diff", name="diff")


def test_compile_takes_serialized_protos(artifact):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(artifact.load()(x, np.ones_like(x)), x - 1)


def test_compile_rejects_garbage_bytes(tmp_path):
    with pytest.raises(FrontendError,
                       match=r"'<GraphDef bytes>' is not a valid binary GraphDef"):
        aotc.compile(b"\xff\xff\xff", b"", out_dir=tmp_path / "out")


def test_big_endian_arrays_are_converted(artifact):
    model = artifact.load()
    x = np.arange(6, dtype=">f4").reshape(2, 3)
    y = np.full((2, 3), 0.5, dtype=">f4")
    np.testing.assert_array_equal(model(x, y), np.arange(6, dtype=np.float32).reshape(2, 3) - .5)
    with pytest.raises(TypeError, match=r"argument 'x' expects float32\[2,3\], got int32\[2,3\]"):
        model(np.zeros((2, 3), ">i4"), y)


def test_load_on_the_object_file_finds_its_metadata(artifact):
    model = aotc.load(artifact.out_dir / "diff.o")
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(model(x, x), np.zeros((2, 3), np.float32))


def test_load_on_a_file_that_is_not_metadata(tmp_path):
    for name, data in (("model.o", b"\x7fELF\x02\x01\x01\xff\xfe"), ("notes.json", b"{}")):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError, match=f"'{path}' is not an aotc artifact's metadata"):
            aotc.load(path)
