"""Comparison helpers shared by the in-notebook checks and the batch grader.

Every helper returns ``(passed, message)`` and never trusts the student's object: it checks the
exact type first (``type(x) is np.ndarray``, never ``isinstance``, never ``==`` on the object),
then dtype, shape and finiteness, and only then compares values against the reference with

    |actual - expected| <= ATOL + RTOL * |expected|      (elementwise, float64)

The message names what differs and, where a common mistake explains it, a hint a student can
act on ("transposed?", "lost the batch axis", "subtract the max", ...).
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

RTOL = 1e-6
"""Relative tolerance for float64 results (the reference is computed in float64)."""
ATOL = 1e-8
"""Absolute tolerance for float64 results (entries near zero)."""

Hint = tuple[Callable[[], np.ndarray], str]
"""``(make_candidate, message)``: if the answer matches ``make_candidate()`` (a typical wrong
answer computed from the inputs), the message ends with ``"Hint: " + message``."""

_EXPECTED_NUMBER = re.compile(r"expected [-+]?(?:\d[\d.]*(?:e[-+]?\d+)?|nan|inf)\b")

_INT_TYPES = (int, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
              np.uint64)


def kind_of(x) -> str:
    """A short description of an untrusted object that calls none of its methods."""
    t = type(x)
    if t is np.ndarray:
        return f"ndarray of shape {x.shape} and dtype {x.dtype}"
    return f"{t.__module__}.{t.__qualname__}" if t.__module__ != "builtins" else t.__qualname__


def _shape_hint(actual: tuple, expected: tuple, batch_size: int | None) -> str:
    if len(expected) == 2 and actual == expected[::-1] and expected[0] != expected[1]:
        return "transposed?"
    if batch_size is not None:
        if expected and expected[0] == batch_size and actual == expected[1:]:
            return "it lost the batch axis: keep one row per example"
        if actual == (batch_size,) + expected:
            return "it kept the batch axis: sum (or average) over the examples, axis 0"
    squeeze_a = tuple(d for d in actual if d != 1)
    squeeze_e = tuple(d for d in expected if d != 1)
    if squeeze_a == squeeze_e:
        return "an extra or missing axis of length 1: check reshape / keepdims"
    if sorted(actual) == sorted(expected):
        return "the right sizes in the wrong order: transposed?"
    return ""


def check_array(actual, expected: np.ndarray, *, name: str = "output",
                rtol: float = RTOL, atol: float = ATOL, batch_size: int | None = None,
                nonfinite_hint: str = "", hints: Sequence[Hint] = ()) -> tuple[bool, str]:
    """Judge an untrusted array against the reference ``expected``.

    Parameters
    ----------
    actual : the student's answer (anything).
    expected : reference ndarray (float64 or int64).
    name : what the answer is called in the message, e.g. ``"dW1"``.
    rtol, atol : tolerance, see the module docstring.
    batch_size : B of the inputs, to recognise a lost or kept batch axis.
    nonfinite_hint : appended when the answer contains NaN or inf.
    hints : :data:`Hint` pairs tried in order when the values differ.

    Returns
    -------
    (passed, message) : message is ``""`` when passed.
    """
    if type(actual) is not np.ndarray:
        extra = ""
        if isinstance(actual, (list, tuple)):
            extra = ": convert it with np.asarray(...)"
        elif type(actual) is dict or actual is None:
            extra = ": did you forget a return statement?" if actual is None else ""
        return False, f"{name} should be a numpy ndarray, got {kind_of(actual)}{extra}"
    if actual.dtype != expected.dtype:
        hint = ""
        if actual.dtype == np.bool_:
            hint = f": convert with .astype(np.{expected.dtype})"
        elif expected.dtype.kind == "f" and actual.dtype.kind in "iub":
            hint = ": did an integer array (or np.zeros_like of one) sneak in? use float64"
        elif expected.dtype.kind == "f" and actual.dtype.kind == "f":
            hint = ": keep float64 throughout (no float32 casts)"
        return False, f"{name}: expected dtype {expected.dtype}, got {actual.dtype}{hint}"
    if actual.shape != expected.shape:
        hint = _shape_hint(tuple(actual.shape), tuple(expected.shape), batch_size)
        return False, (f"{name} has shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
                       + (f": {hint}" if hint else ""))
    if actual.dtype.kind == "f" and not bool(np.all(np.isfinite(actual))):
        bad = np.argwhere(~np.isfinite(actual))[0]
        what = "NaN" if bool(np.any(np.isnan(actual))) else "inf"
        msg = f"{name} contains {what} (first at index {tuple(int(i) for i in bad)})"
        return False, msg + (f": {nonfinite_hint}" if nonfinite_hint else "")
    if actual.dtype.kind in "iub":
        wrong = actual != expected
        if not bool(np.any(wrong)):
            return True, ""
        idx = tuple(int(i) for i in np.argwhere(wrong)[0])
        return False, (f"{name} differs from the reference in {int(wrong.sum())} of "
                       f"{wrong.size} entries; first at index {idx}: got {actual[idx]}, "
                       f"expected {expected[idx]}")
    diff = np.abs(actual - expected)
    excess = diff - (atol + rtol * np.abs(expected))
    if not bool(np.any(excess > 0)):
        return True, ""
    idx = np.unravel_index(int(np.argmax(excess)), actual.shape)
    idx = tuple(int(i) for i in idx)
    where = f"index {idx}" + (f" (example {idx[0]} of the batch)" if batch_size else "")
    msg = (f"{name} differs from the reference: max abs error {float(diff.max()):.3g}, "
           f"worst at {where}: got {float(actual[idx]):.8g}, expected {float(expected[idx]):.8g} "
           f"({int((excess > 0).sum())} of {actual.size} entries off; rtol={rtol:g}, atol={atol:g})")
    for make_candidate, hint in hints:
        try:
            candidate = np.asarray(make_candidate(), dtype=np.float64)
        except Exception:  # a hint that does not apply to this shape
            continue
        if candidate.shape == actual.shape and np.allclose(actual, candidate, rtol=rtol, atol=atol):
            return False, f"{msg}. Hint: {hint}"
    return False, msg


def check_dict(actual, expected: dict, *, name: str = "output",
               key_hints: dict | None = None, **kwargs) -> tuple[bool, str]:
    """Judge an untrusted dict of arrays (``{"W1": ..., "b1": ...}``) key by key.

    ``kwargs`` go to :func:`check_array` for every entry, ``key_hints[key]`` as its ``hints``.
    Extra keys are ignored; every key of ``expected`` must be present. All wrong entries are
    reported, one per line.
    """
    if type(actual) is not dict:
        return False, f"{name} should be a dict like {{'W1': ..., 'b1': ...}}, got {kind_of(actual)}"
    keys = [k for k in actual.keys() if type(k) is str]
    missing = [k for k in expected if k not in keys]
    if missing:
        return False, f"{name} is missing the keys {missing} (it has {sorted(keys)})"
    problems = []
    for key, ref in expected.items():
        hints = (key_hints or {}).get(key, ())
        ok, msg = check_array(actual[key], ref, name=f"{name}[{key!r}]", hints=hints, **kwargs)
        if not ok:
            problems.append(msg)
    return (not problems), "\n".join(problems)


def check_int(actual, expected: int, *, name: str = "output") -> tuple[bool, str]:
    """Judge an untrusted integer (Python ``int`` or a NumPy integer scalar; ``bool`` is not)."""
    if type(actual) not in _INT_TYPES:
        hint = ": wrap it in int(...)" if type(actual) in (float, np.float64, np.ndarray) else ""
        return False, f"{name} should be an int, got {kind_of(actual)}{hint}"
    if int(actual) != int(expected):
        return False, f"{name} is {int(actual)}, expected {int(expected)}"
    return True, ""


def changed_inputs(before: dict, after) -> list[str]:
    """Names of the inputs a call changed in place; ``[]`` when every input is unchanged.

    The rule shared by the in-notebook checks and the batch grader: a graded function must
    leave its inputs as it found them.

    Parameters
    ----------
    before : the case's inputs as built for the call (trusted): ndarrays, dicts of ndarrays,
        numbers, callables; only the arrays (also inside dicts) are compared.
    after : the same inputs after the call (untrusted: in the batch grader they come back from
        the sandbox). Anything that is not a dict counts as every array input changed.

    Returns
    -------
    list of str : e.g. ``["z"]`` or ``["params['W1']"]``, in the order of ``before``.
    """
    if type(after) is not dict:
        after = {}
    changed = []
    for key, value in before.items():
        now = after.get(key)
        if type(value) is np.ndarray:
            if not _same_array(value, now):
                changed.append(key)
        elif type(value) is dict:
            if type(now) is not dict:
                changed.append(key)
                continue
            changed.extend(f"{key}[{sub!r}]" for sub, arr in value.items()
                           if type(arr) is np.ndarray and not _same_array(arr, now.get(sub)))
    return changed


def _same_array(reference: np.ndarray, other) -> bool:
    """Whether the untrusted ``other`` is an ndarray of the same dtype, shape and values."""
    if type(other) is not np.ndarray or other.dtype != reference.dtype:
        return False
    if other.shape != reference.shape:
        return False
    return bool(np.array_equal(reference, other, equal_nan=reference.dtype.kind in "fc"))


def in_place_message(changed: Sequence[str]) -> str:
    """What the student reads when :func:`changed_inputs` found changed inputs."""
    return (f"your function changed its input {', '.join(changed)} in place: "
            "work on a copy (e.g. x.copy()) or build a new array")


def redact_values(message: str) -> str:
    """``message`` without the reference's numbers, for hidden tests.

    ``"got 0.5, expected 0.7"`` becomes ``"got 0.5, expected value hidden"``; expected shapes
    and dtypes (``"expected (5, 6)"``, ``"expected dtype float64"``) stay, since the
    docstrings state them anyway.
    """
    return _EXPECTED_NUMBER.sub("expected value hidden", message)
