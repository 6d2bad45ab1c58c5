"""Frames and the value codec shared by the trusted grader and the sandbox.

Every message is a *frame*: an 8-byte big-endian length followed by that many bytes. A value
(nested dicts with str keys, lists, tuples, str, int, float, bool, None, ndarrays, NumPy
scalars) is encoded as a 4-byte JSON length, the JSON skeleton, then one frame per array. An
array frame is a 2-byte length, a JSON header ``[dtype.str, shape]`` and the raw C-order bytes:
the same information as a ``.npy`` file with ``allow_pickle=False``, but decoded without
``np.load``'s header parser (which costs ~1.5 ms in a fresh child). Only boolean, integer,
float and complex dtypes are accepted, so object arrays (pickles) can never cross.

Decoding untrusted bytes (:func:`decode_value`) raises only :class:`WireError`, whatever the
bytes: a skeleton of at most ``MAX_JSON`` bytes and ``MAX_DEPTH`` levels, at most
``MAX_ARRAYS`` array frames, each referenced exactly once by the skeleton (an unreferenced or
doubly referenced frame is refused), shapes whose size matches the bytes given.
"""
from __future__ import annotations

import json
import math
import os
import select
import struct
import time

import numpy as np

MAX_JSON = 1 << 20
"""Largest JSON skeleton accepted when decoding (bytes)."""

MAX_DEPTH = 20
"""Deepest nesting accepted when decoding."""

MAX_ARRAYS = 4096
"""Most array frames one encoded value may carry."""


class WireError(ValueError):
    """Raised when bytes do not decode to a value (malformed, too large, pickled data)."""


class Unsupported:
    """Stands for a returned object that cannot cross the data channel (e.g. a custom class)."""

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self):
        return f"<object of type {self.type_name}>"


def frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its 8-byte big-endian length."""
    return struct.pack(">Q", len(payload)) + payload


def _array_bytes(array: np.ndarray) -> bytes:
    header = json.dumps([array.dtype.str, list(array.shape)]).encode()
    return struct.pack(">H", len(header)) + header + np.ascontiguousarray(array).tobytes()


def _array_from_bytes(data) -> np.ndarray:
    """Rebuild an array from :func:`_array_bytes` output (untrusted); raises WireError."""
    if len(data) < 2:
        raise WireError("bad array: truncated")
    (n,) = struct.unpack(">H", bytes(data[:2]))
    try:
        descr, shape = json.loads(bytes(data[2:2 + n]).decode("utf-8"))
        if type(descr) is not str or len(descr) > 16:
            raise TypeError("dtype must be a short str")
        dtype = np.dtype(descr)
    except Exception as exc:  # ValueError, TypeError, UnicodeDecodeError, ...
        raise WireError(f"bad array header: {type(exc).__name__}") from None
    if (dtype.kind not in "biufc" or dtype.hasobject or dtype.fields is not None
            or dtype.subdtype is not None):
        raise WireError(f"bad array: dtype {dtype} is not allowed")
    if (type(shape) is not list or len(shape) > 32
            or not all(type(d) is int and 0 <= d < 2 ** 40 for d in shape)):
        raise WireError("bad array: bad shape")
    raw = data[2 + n:]
    if len(raw) != dtype.itemsize * math.prod(shape):  # Python ints: no overflow
        raise WireError("bad array: size does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def encode_value(value) -> bytes:
    """Encode a value tree as JSON skeleton + array frames (see the module docstring).

    Objects that are not plain data become ``{"__unsupported__": type name}`` so the parent
    can say what was returned instead of an array. A ``CallableArg`` (any object of that class
    name with ``name`` and ``arrays``) becomes ``{"__callable__": name, "arrays": {...}}``.
    """
    arrays: list[bytes] = []

    def enc(x, depth):
        if depth > MAX_DEPTH:
            return {"__unsupported__": "too deeply nested value"}
        if x is None or type(x) in (bool, str):
            return x
        if type(x) is int:
            return x if abs(x) < 2 ** 62 else {"__unsupported__": "int too large"}
        if type(x) is float:
            return {"__float__": repr(x)}
        if len(arrays) >= MAX_ARRAYS and isinstance(x, (np.ndarray, np.generic)):
            return {"__unsupported__": "too many arrays"}
        if type(x) is np.ndarray:
            if x.dtype.hasobject or x.dtype.kind not in "biufc" or x.dtype.fields is not None:
                return {"__unsupported__": f"ndarray of dtype {x.dtype}"}
            arrays.append(_array_bytes(x))
            return {"__nd__": len(arrays) - 1}
        if isinstance(x, np.generic) and type(x).__module__ == "numpy" and x.dtype.kind in "biufc":
            arrays.append(_array_bytes(np.asarray(x)))
            return {"__npscalar__": len(arrays) - 1}
        if type(x) in (list, tuple):
            items = [enc(v, depth + 1) for v in x]
            return {"__tuple__": items} if type(x) is tuple else items
        if type(x) is dict:
            if not all(type(k) is str for k in x):
                return {"__unsupported__": "dict with non-str keys"}
            return {"__dict__": {k: enc(v, depth + 1) for k, v in x.items()}}
        if type(x).__name__ == "CallableArg":
            return {"__callable__": str(x.name), "arrays": enc(dict(x.arrays), depth + 1)}
        return {"__unsupported__": type(x).__name__}

    skeleton = json.dumps(enc(value, 0)).encode()
    return struct.pack(">I", len(skeleton)) + skeleton + b"".join(frame(a) for a in arrays)


def decode_value(data, *, max_bytes: int = 1 << 28, make_callable=None):
    """Decode bytes from :func:`encode_value`; never unpickles and raises only WireError.

    Parameters
    ----------
    data : the encoded bytes (untrusted): bytes, bytearray or memoryview.
    max_bytes : refuse larger payloads.
    make_callable : ``(name, arrays) -> object`` to rebuild ``CallableArg`` entries; when
        None they decode to ``{"__callable__": name, "arrays": ...}`` dictionaries.

    Returns
    -------
    The value tree (arrays are fresh, writable copies).
    """
    try:
        return _decode(memoryview(data).cast("B"), max_bytes, make_callable)
    except WireError:
        raise
    except Exception as exc:  # RecursionError, MemoryError, errors of make_callable, ...
        raise WireError(f"undecodable value ({type(exc).__name__})") from None


def _decode(view: memoryview, max_bytes: int, make_callable):
    size = len(view)
    if size > max_bytes:
        raise WireError(f"payload of {size} bytes exceeds {max_bytes}")
    if size < 4:
        raise WireError("payload too short")
    (n,) = struct.unpack(">I", view[:4])
    if n > MAX_JSON or 4 + n > size:
        raise WireError("bad JSON length")
    try:
        skeleton = json.loads(bytes(view[4:4 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"bad JSON: {str(exc)[:100]}") from None
    spans, pos = [], 4 + n  # (start, end) of each array frame; decoded only when referenced
    while pos < size:
        if len(spans) >= MAX_ARRAYS:
            raise WireError(f"more than {MAX_ARRAYS} array frames")
        if pos + 8 > size:
            raise WireError("truncated array frame")
        (m,) = struct.unpack(">Q", view[pos:pos + 8])
        if pos + 8 + m > size:
            raise WireError("truncated array frame")
        spans.append((pos + 8, pos + 8 + m))
        pos += 8 + m
    used = [False] * len(spans)

    def array(i):
        if type(i) is not int or not 0 <= i < len(spans):
            raise WireError("bad array reference")
        if used[i]:
            raise WireError("array frame referenced twice")
        used[i] = True
        start, end = spans[i]
        return _array_from_bytes(view[start:end])

    def dec(x, depth):
        if depth > MAX_DEPTH + 2:
            raise WireError("value nested too deeply")
        if x is None or type(x) in (bool, str, int):
            return x
        if type(x) is list:
            return [dec(v, depth + 1) for v in x]
        if type(x) is not dict or len(x) not in (1, 2):
            raise WireError("bad skeleton node")
        if len(x) == 2 and set(x) != {"__callable__", "arrays"}:
            raise WireError("bad skeleton node")
        if "__float__" in x:
            if type(x["__float__"]) is not str or len(x["__float__"]) > 40:
                raise WireError("bad float")
            return float(x["__float__"])
        if "__nd__" in x:
            return array(x["__nd__"])
        if "__npscalar__" in x:
            value = array(x["__npscalar__"])
            if value.ndim != 0:
                raise WireError("bad NumPy scalar")
            return value[()]
        if "__tuple__" in x and type(x["__tuple__"]) is list:
            return tuple(dec(v, depth + 1) for v in x["__tuple__"])
        if "__dict__" in x and type(x["__dict__"]) is dict:
            return {str(k): dec(v, depth + 1) for k, v in x["__dict__"].items()}
        if "__unsupported__" in x:
            return Unsupported(str(x["__unsupported__"])[:200])
        if "__callable__" in x and "arrays" in x:
            arrs = dec(x["arrays"], depth + 1)
            if make_callable is None:
                return {"__callable__": str(x["__callable__"]), "arrays": arrs}
            return make_callable(str(x["__callable__"]), arrs)
        raise WireError("unknown skeleton node")

    value = dec(skeleton, 0)
    if not all(used):
        raise WireError("array frame not referenced by the value")
    return value


def read_exact(fd: int, n: int, deadline: float | None = None) -> bytes | None:
    """Read exactly ``n`` bytes from ``fd``; None on EOF or when ``deadline`` passes."""
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_into(fd: int, buffer: bytearray, deadline: float | None = None) -> bool:
    """Fill ``buffer`` from ``fd`` without any intermediate copy; False on EOF or deadline."""
    view, got = memoryview(buffer), 0
    while got < len(buffer):
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return False
        count = os.readv(fd, [view[got:]])
        if count == 0:
            return False
        got += count
    return True


def read_frame_into(fd: int, limit: int, deadline: float | None = None) -> bytearray | None:
    """Read one frame (at most ``limit`` bytes of payload) into a new bytearray; None on EOF,
    deadline or a frame over ``limit``. One buffer, so the reader can wipe it (:func:`wipe`)."""
    header = read_exact(fd, 8, deadline)
    if header is None:
        return None
    (size,) = struct.unpack(">Q", header)
    if size > limit:
        return None
    buffer = bytearray(size)
    return buffer if read_into(fd, buffer, deadline) else None


def wipe(buffer: bytearray) -> None:
    """Overwrite ``buffer`` with zeros (before it is freed or a process is forked)."""
    buffer[:] = bytes(len(buffer))


def write_all(fd: int, data, deadline: float | None = None) -> bool:
    """Write all of ``data`` to ``fd``. With a ``deadline`` the fd is made non-blocking and
    False is returned when the reader does not take the bytes in time."""
    view = memoryview(data).cast("B")
    if deadline is None:
        while view:
            view = view[os.write(fd, view):]
        return True
    os.set_blocking(fd, False)
    try:
        while view:
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [fd], [], left)[1]:
                    return False
        return True
    finally:
        os.set_blocking(fd, True)
