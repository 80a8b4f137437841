"""Every user error is one clear message and exit status 1: no traceback, no output dir."""

from __future__ import annotations

import pytest

from conftest import EXAMPLES, run_aotc

MATMUL_GRAPH = EXAMPLES / "matmul/graph.pbtxt"
MATMUL_CONFIG = EXAMPLES / "matmul/config.pbtxt"


def _fails(tmp_path, graph, config, *flags, expect):
    out = tmp_path / "out"
    proc = run_aotc("compile", graph, config, "-o", out, *flags)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    for fragment in expect:
        assert fragment in proc.stderr, proc.stderr
    assert not out.exists(), "a failed compile must not leave an output directory"
    return proc.stderr


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_unknown_feed_names_the_closest_nodes(tmp_path):
    config = _write(tmp_path, "c.pbtxt", MATMUL_CONFIG.read_text().replace('"x_hold"', '"x_hld"'))
    _fails(tmp_path, MATMUL_GRAPH, config, expect=["x_hld", "x_hold"])


def test_unknown_fetch_names_the_closest_nodes(tmp_path):
    config = _write(tmp_path, "c.pbtxt", MATMUL_CONFIG.read_text().replace('"x_y_prod" }', '"x_y_prd" }'))
    _fails(tmp_path, MATMUL_GRAPH, config, expect=["x_y_prd", "x_y_prod"])


def test_unfed_placeholder(tmp_path):
    text = MATMUL_CONFIG.read_text()
    start = text.index("feed {", text.index("feed {") + 1)
    end = text.index("fetch {")
    config = _write(tmp_path, "c.pbtxt", text[:start] + text[end:])  # drop the y_hold feed
    _fails(tmp_path, MATMUL_GRAPH, config, expect=["y_hold", "Placeholder", "not fed"])


def test_feed_shape_contradicting_the_graph(tmp_path):
    graph = _write(tmp_path, "g.pbtxt", MATMUL_GRAPH.read_text())
    config = _write(tmp_path, "c.pbtxt", MATMUL_CONFIG.read_text().replace(
        "dim { size: 2 }\n    dim { size: 3 }", "dim { size: 5 }\n    dim { size: 3 }", 1))
    # The Placeholder declares [2,3]; the Config says [5,3].
    stderr = _fails(tmp_path, graph, config, expect=["x_hold"])
    assert "[5, 3]" in stderr or "5" in stderr


def test_every_unsupported_op_is_listed_at_once(tmp_path):
    graph = _write(tmp_path, "g.pbtxt", """
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } }
       attr { key: "shape" value { shape { dim { size: 4 } } } } }
node { name: "a" op: "FancyOp" input: "x" attr { key: "T" value { type: DT_FLOAT } } }
node { name: "b" op: "OtherOp" input: "a" }
node { name: "c" op: "FancyOp" input: "b" }
""")
    config = _write(tmp_path, "c.pbtxt", 'feed { id { node_name: "x" } name: "x" }\n'
                    'fetch { id { node_name: "c" } name: "y" }\n')
    _fails(tmp_path, graph, config, expect=["FancyOp", "OtherOp", "'a'", "'b'", "'c'"])


def test_garbage_graph_file(tmp_path):
    graph = tmp_path / "g.pb"
    graph.write_bytes(b"\xff\xfe not a proto \x00\x01")
    _fails(tmp_path, graph, MATMUL_CONFIG, expect=[str(graph.name)])


def test_missing_graph_file(tmp_path):
    _fails(tmp_path, tmp_path / "nope.pb", MATMUL_CONFIG, expect=["nope.pb"])


def test_config_given_as_graph(tmp_path):
    _fails(tmp_path, MATMUL_CONFIG, MATMUL_CONFIG, expect=["config.pbtxt"])


def test_text_parse_error_names_the_line(tmp_path):
    config = _write(tmp_path, "c.pbtxt", "feed { id { node_name: x_hold } }\n")
    _fails(tmp_path, MATMUL_GRAPH, config, expect=["c.pbtxt", "1:"])


@pytest.mark.parametrize("cpp_class", ["foo::", "1abc", "foo::bar baz", "a::class", "x;y", "A::::B", "::", "std", "NULL", "errno", "AotcRunOptions"])
def test_bad_cpp_class(tmp_path, cpp_class):
    _fails(tmp_path, MATMUL_GRAPH, MATMUL_CONFIG, "--cpp_class", cpp_class,
           expect=["--cpp_class"])


def test_bad_flag_is_status_one(tmp_path):
    proc = run_aotc("compile", MATMUL_GRAPH, MATMUL_CONFIG, "--no-such-flag")
    assert proc.returncode == 1 and "--no-such-flag" in proc.stderr


def test_hostile_feed_name_is_rejected(tmp_path):
    config = _write(tmp_path, "c.pbtxt", MATMUL_CONFIG.read_text().replace(
        'name: "x"', 'name: "x(); system(\\"rm -rf /\\"); int y"'))
    _fails(tmp_path, MATMUL_GRAPH, config, expect=["feed"])


_UNKNOWN_BATCH_GRAPH = """
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } }
       attr { key: "shape" value { shape { dim { size: -1 } dim { size: 3 } } } } }
node { name: "y" op: "Neg" input: "x" attr { key: "T" value { type: DT_FLOAT } } }
"""


@pytest.mark.parametrize("feed_shape, shown, unknown, example", [
    # The Placeholder leaves the batch dim open and the Config says nothing.
    ("", "[?, 3]", "dimension 0 is unknown", "shape { dim { size: 1 } dim { size: 3 } }"),
    # The Config itself keeps a -1.
    ("shape { dim { size: 2 } dim { size: -1 } }", "[2, ?]", "dimension 1 is unknown",
     "shape { dim { size: 2 } dim { size: 1 } }"),
])
def test_unknown_feed_dimension_says_how_to_fix_the_config(tmp_path, feed_shape, shown, unknown,
                                                          example):
    graph = _write(tmp_path, "g.pbtxt", _UNKNOWN_BATCH_GRAPH)
    config = _write(tmp_path, "c.pbtxt",
                    f'feed {{ id {{ node_name: "x" }} {feed_shape} name: "x" }}\n'
                    'fetch { id { node_name: "y" } name: "y" }\n')
    _fails(tmp_path, graph, config, expect=["feed 'x'", shown, unknown, "fixed shapes",
                                            "in the Config", example])


def test_unknown_feed_rank(tmp_path):
    graph = _write(tmp_path, "g.pbtxt", _UNKNOWN_BATCH_GRAPH.replace(
        "shape { dim { size: -1 } dim { size: 3 } }", "shape { unknown_rank: true }"))
    config = _write(tmp_path, "c.pbtxt", 'feed { id { node_name: "x" } name: "x" }\n'
                    'fetch { id { node_name: "y" } name: "y" }\n')
    _fails(tmp_path, graph, config, expect=["feed 'x'", "<unknown rank>", "rank is unknown",
                                            "shape { dim { size: 1 } }"])
