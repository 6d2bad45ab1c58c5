"""The wire decoder against crafted and random bytes: it raises WireError and nothing else.

``decode_value`` reads what a test process answers, so every byte is the attacker's. A bounded
hypothesis run here (a few seconds); ``bench/fuzz_grader.py`` runs many more inputs.
"""
from __future__ import annotations

import json
import struct
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.sandbox.inside import wire

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def _encode(skeleton, frames=()) -> bytes:
    """Bytes with a hand-made JSON skeleton and raw array frames."""
    text = skeleton if isinstance(skeleton, bytes) else json.dumps(skeleton).encode()
    return struct.pack(">I", len(text)) + text + b"".join(wire.frame(f) for f in frames)


def _array_frame(descr, shape, raw: bytes) -> bytes:
    header = json.dumps([descr, shape]).encode()
    return struct.pack(">H", len(header)) + header + raw


def _decodes_or_refuses(data) -> None:
    try:
        wire.decode_value(data)
    except wire.WireError:
        pass


arrays = st.builds(
    lambda dtype, shape, seed: np.random.default_rng(seed).integers(
        -50, 50, size=shape).astype(dtype),
    st.sampled_from(["<f8", "<f4", "<i8", "|b1", "<c16", ">i4"]),
    st.lists(st.integers(0, 4), max_size=3).map(tuple), st.integers(0, 2 ** 32 - 1))
leaves = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 61, 2 ** 61),
                   st.floats(allow_nan=False), st.text(max_size=20), arrays)
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)


@FUZZ
@given(values)
def test_plain_values_round_trip(value):
    back = wire.decode_value(wire.encode_value(value))
    assert _same(back, value)


def _same(a, b) -> bool:
    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(b, dict):
        return type(a) is dict and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in b)
    return type(a) is type(b) and a == b


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_wire_errors(data):
    _decodes_or_refuses(data)
    _decodes_or_refuses(struct.pack(">I", len(data)) + data)


@FUZZ
@given(values, st.data())
def test_damaged_encodings_raise_only_wire_errors(value, data):
    encoded = bytearray(wire.encode_value(value))
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(len(encoded) - 1, 0)))
        if kind == "flip" and encoded:
            encoded[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "cut":
            del encoded[pos:pos + data.draw(st.integers(1, 16))]
        else:
            encoded[pos:pos] = data.draw(st.binary(min_size=1, max_size=12))
    _decodes_or_refuses(bytes(encoded))


json_trees = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
        ["__nd__", "__npscalar__", "__float__", "__tuple__", "__dict__", "__unsupported__",
         "__callable__", "arrays", "x"]), inner, max_size=3)), max_leaves=12)


@FUZZ
@given(json_trees, st.lists(st.binary(max_size=40), max_size=3))
def test_crafted_skeletons_raise_only_wire_errors(tree, frames):
    _decodes_or_refuses(_encode(tree, frames))


@pytest.mark.parametrize("data", [
    _encode(b"[" * 200_000 + b"]" * 200_000),  # the JSON parser's recursion
    _encode({"__nd__": 0}, [_array_frame("<f8", [2 ** 39] * 4, b"")]),  # size overflows int64
    _encode({"__nd__": 0}, [_array_frame("<f8", [2 ** 32, 2 ** 32], b"")]),  # wraps to 0
    _encode({"__nd__": 0}, [_array_frame("<f8", -1, b"")]),
    _encode({"__nd__": 0}, [_array_frame(["<f8"], [1], b"\0" * 8)]),  # dtype not a str
    _encode({"__nd__": 0}, [_array_frame("O", [1], b"\0" * 8)]),  # objects (pickles)
    _encode({"__nd__": 0}, [_array_frame("(2,)f8", [1], b"\0" * 16)]),  # sub-array dtype
    _encode({"__nd__": 0}, [_array_frame("V8", [1], b"\0" * 8)]),
    _encode({"__nd__": 0}, [b"\xff\xff{"]),
    _encode({"__float__": 5}),
    _encode({"__float__": "1" * 10_000}),
    _encode({"__tuple__": 3}),
    _encode({"__callable__": "f"}),
    _encode({"__npscalar__": 0}, [_array_frame("<f8", [2], b"\0" * 16)]),
    _encode({"__nd__": True}, [_array_frame("<f8", [1], b"\0" * 8)]),
    _encode([{"__nd__": 0}, {"__nd__": 0}], [_array_frame("<f8", [1], b"\0" * 8)]),
    _encode({"__nd__": 0}, [_array_frame("<f8", [1], b"\0" * 8)] * 2),  # one unreferenced
    _encode(None, [_array_frame("<f8", [1], b"\0" * 8)]),
    _encode({"a": 1, "b": 2}),
    b"\x00\x00\x00\x05nul",
], ids=lambda data: repr(data[:24]))
def test_crafted_answers_are_refused_with_a_wire_error(data):
    with pytest.raises(wire.WireError):
        wire.decode_value(data)


def test_millions_of_tiny_frames_cost_the_parent_almost_nothing():
    tiny = wire.frame(_array_frame("|b1", [0], b""))
    data = _encode({"__nd__": 0}) + tiny * 2_000_000  # 40 MB of unreferenced frames
    start = time.process_time()
    with pytest.raises(wire.WireError, match="array frames"):
        wire.decode_value(data)
    assert time.process_time() - start < 0.5


def test_an_answer_may_carry_at_most_max_arrays_arrays():
    many = [np.zeros(1)] * wire.MAX_ARRAYS
    assert len(wire.decode_value(wire.encode_value(many))) == wire.MAX_ARRAYS
    too_many = wire.encode_value(many + [np.zeros(1)])
    assert isinstance(wire.decode_value(too_many)[-1], wire.Unsupported)  # encoder side
    forged = _encode([{"__nd__": i} for i in range(wire.MAX_ARRAYS + 1)],
                     [_array_frame("<f8", [1], b"\0" * 8)] * (wire.MAX_ARRAYS + 1))
    with pytest.raises(wire.WireError, match="array frames"):
        wire.decode_value(forged)
