"""Bounded fuzzing (hypothesis) of the grader's parsers of untrusted input, in its own process.

Documented outcomes only: the notebook reader returns an ``Extraction`` (a bad notebook ends as
``fatal``, ``problems`` or ``notes``) and ``analysis.finish`` a JSON-able dict; the policy scan
returns flags and the magics transformer a str; the wire decoder returns a value or raises
``WireError``. Any other exception fails the test. ``bench/fuzz_grader.py`` runs the same
targets on >= 10,000 inputs.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.engine import analysis, notebook_io, policy
from tests import submissions as subs

try:
    from autograder.sandbox.inside import wire
except ImportError:  # pragma: no cover - an older layout
    from autograder.sandbox import harness as wire

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

LAYOUT = notebook_io.load_layout(subs.REPO, "forward_pass")
KEYS = st.sampled_from(["cells", "cell_type", "source", "metadata", "nbgrader", "grade_id",
                        "solution", "grade", "locked", "nbformat", "outputs", "predict", "x"])
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.sampled_from(["code", "markdown", "predict", "relu", "test_relu", "setup"])
           | st.text(max_size=20))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(KEYS, inner, max_size=5), max_leaves=30)
TOKENS = st.sampled_from(["(", ")", "[", "]", ":", ",", ";", ".", "=", "+", "-", "not ",
                          "lambda: ", "def f(", "import ", "from ", "os", "course", "scipy",
                          ".special", "subprocess", "__import__('socket')", "x", "1", "'s'",
                          "\n", "\n    ", "%timeit ", "%%time\n", "!ls ", "?", "\\", "\x00",
                          "#", "if ", "else ", "@d\n", "\ud800"])


def _read(data) -> None:
    if isinstance(data, bytes):
        extraction = notebook_io.extract_bytes(data, LAYOUT)
    else:
        extraction = notebook_io.extract_notebook(data, LAYOUT)
    assert isinstance(extraction, notebook_io.Extraction)
    assert extraction.fatal is None or isinstance(extraction.fatal, str)
    result = analysis.finish(extraction, LAYOUT, ("numpy", "scipy"))
    assert result["fatal"] or len(result["program"]) == len(result["scans"])
    json.dumps(result)


@FUZZ
@given(st.binary(max_size=300))
def test_reader_on_arbitrary_bytes(data):
    _read(data)


@FUZZ
@given(JSON)
def test_reader_on_arbitrary_json_values(value):
    _read(value)
    _read({"nbformat": 4, "cells": value if isinstance(value, list) else [value]})


@FUZZ
@given(st.data())
def test_reader_on_real_notebooks_with_parts_replaced(data):
    nb = json.loads(json.dumps(LAYOUT.raw))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(nb["cells"]) - 1))
        where = data.draw(st.sampled_from(["cell", "field", "nbgrader", "source", "dup"]))
        cell = nb["cells"][index]
        if where == "cell":
            nb["cells"][index] = data.draw(JSON)
        elif where == "field" and isinstance(cell, dict):
            cell[data.draw(st.sampled_from(["source", "cell_type", "metadata"]))] = data.draw(JSON)
        elif where == "nbgrader" and isinstance(cell, dict):
            cell["metadata"] = {"nbgrader": data.draw(JSON)}
        elif where == "source" and isinstance(cell, dict):
            cell["source"] = "".join(data.draw(st.lists(TOKENS, max_size=40)))
        elif where == "dup":
            nb["cells"].insert(index, json.loads(json.dumps(cell)))
    _read(nb)
    _read(json.dumps(nb).encode())


def _scan(source: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings of random text
        flags = policy.scan(source, packages=("numpy", "scipy"))
        assert isinstance(policy.transform_magics(source), str)
    assert all(rule in policy.RULES or rule in (policy.UNAVAILABLE, policy.UNREADABLE)
               for rule, _ in flags)


@FUZZ
@given(st.text(max_size=200))
def test_scan_on_arbitrary_text(source):
    _scan(source)


@FUZZ
@given(st.lists(TOKENS, max_size=80))
def test_scan_on_python_like_token_soup(tokens):
    _scan("".join(tokens))


@settings(max_examples=40, deadline=None, database=None)
@given(st.sampled_from(["-", "not ", "~", "(", "[", "1+", "lambda: ", "x if x else "]),
       st.integers(1, 30_000))
def test_scan_on_deep_nesting(op, depth):
    close = {"(": ")", "[": "]"}.get(op, "")
    source = "import course\nx = " + op * depth + "1" + close * depth
    _scan(source)
    flags = dict(policy.scan(source))  # nothing can hide behind a deep expression
    assert "reference_library" in flags or policy.UNREADABLE in flags or close


def _decode(data: bytes) -> None:
    try:
        wire.decode_value(data)
    except wire.WireError:
        pass


@FUZZ
@given(st.binary(max_size=400))
def test_decoder_on_arbitrary_bytes(data):
    _decode(data)
    _decode(len(data).to_bytes(4, "big") + data)


@FUZZ
@given(st.data())
def test_decoder_on_real_encodings_cut_or_flipped(data):
    value = {"a": np.arange(data.draw(st.integers(0, 6)), dtype=np.float64),
             "b": [1, 2.5, None, "s", (np.int64(3),)], "c": {"d": np.zeros((2, 0), bool)}}
    raw = bytearray(wire.encode_value(value))
    for _ in range(data.draw(st.integers(1, 4))):
        if not raw:
            break
        pos = data.draw(st.integers(0, len(raw) - 1))
        if data.draw(st.booleans()):
            raw[pos] = data.draw(st.integers(0, 255))
        else:
            raw = raw[:pos] + data.draw(st.binary(max_size=30))
    _decode(bytes(raw))


@FUZZ
@given(JSON, st.lists(st.tuples(st.sampled_from(["<f8", "|b1", "O", "<U3", "V8", "(2,)f8",
                                                 "<M8[s]"]),
                                st.lists(st.integers(-2, 2 ** 41), max_size=5),
                                st.binary(max_size=64)), max_size=3))
def test_decoder_on_hand_made_skeletons_and_frames(skeleton, arrays):
    body = json.dumps(skeleton).encode()
    frames = b""
    for dtype, shape, payload in arrays:
        header = json.dumps([dtype, shape]).encode()
        frames += wire.frame(len(header).to_bytes(2, "big") + header + payload)
    _decode(len(body).to_bytes(4, "big") + body + frames)
    for ref in ({"__nd__": 0}, [{"__nd__": 0}, {"__nd__": 0}], {"__npscalar__": 0}):
        ref_body = json.dumps(ref).encode()
        _decode(len(ref_body).to_bytes(4, "big") + ref_body + frames)


@pytest.mark.parametrize("n", [3000])
def test_bench_reports_no_parent_crash(n, capsys):
    """A short run of ``bench/fuzz_grader.py`` (its full run is >= 10,000 inputs)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fuzz_grader",
                                                  subs.REPO / "bench" / "fuzz_grader.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--n", str(n), "--seed", "1"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"fuzz: inputs={n} parent_crashes=0"
