"""How a check's message reaches the student: wrapped at word boundaries, with its hint on a line
of its own, and with a hint for the NumPy shape errors a student's code raises.

Every assignment's cases use the same three pieces:

- :func:`wrap` lays out a comparison's message (lines of at most :data:`WIDTH` characters; a
  number stays next to the word before it; ``Hint: ...`` starts its own line, where the class
  report finds it);
- :func:`explain_error` adds a hint to an exception raised inside the student's function: a
  matrix product with a transposed factor, a 1-D bias stacked next to a matrix, a sum that
  dropped its axis, shapes that do not broadcast, a reshape or an index that does not fit;
- :class:`HintedCase` is a :class:`~autograder.cases.spec.Case` that wraps every message of its
  comparison and explains raised errors (the grader and the in-notebook checks call its
  ``explain_error``).
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import numpy as np

from autograder.cases.spec import PRIVATE_PREFIX, Case

WIDTH = 88
"""Lines of a message are at most this long (the first line counts the ``- <case name>: `` the
check puts in front of it)."""

# --------------------------------------------------------------------------- layout
_HINT_AFTER_COLON = (
    re.compile(r"^(.* has shape \([^)]*\), expected \([^)]*\)): (.+)$"),
    re.compile(r"^(.* contains (?:NaN|inf) \(first at index \([^)]*\)\)): (.+)$"),
    re.compile(r"^(.* is (?:nan|inf|-inf), expected a finite number): (.+)$"),
    re.compile(r"^(.*: expected dtype \S+, got \S+): (.+)$"),
    re.compile(r"^(.* should be a numpy ndarray, got .+?): (convert it with .+|did you forget "
               r"a return statement\?)$"),
)
_KEEP_TOGETHER = re.compile(r"\b(expected|got|index|shape|dtype) (?=[-+(\w])")
_TUPLE = re.compile(r"\((?:-?\d+, )+-?\d*\)")
_NBSP = "\u00a0"  # textwrap breaks lines at ASCII whitespace only


def _body_and_hint(line: str) -> tuple[str, str]:
    """``(body, hint)`` of one message line; ``hint`` is ``""`` when the line has none."""
    if ". Hint: " in line:
        body, hint = line.rsplit(". Hint: ", 1)
        return body + ".", hint
    if line.startswith("Hint: "):
        return "", line[len("Hint: "):]
    for pattern in _HINT_AFTER_COLON:
        found = pattern.match(line)
        if found:
            return found.group(1), found.group(2)
    return line, ""


def _fill(text: str, first_indent: int) -> list[str]:
    """``text`` wrapped at word boundaries; a word and the number after ``expected``/``got``/
    ``index`` stay on one line (hidden tests redact "expected <number>" as a whole)."""
    glued = _TUPLE.sub(lambda m: m.group(0).replace(" ", _NBSP), text)
    glued = _KEEP_TOGETHER.sub(lambda m: m.group(1) + _NBSP, glued)
    lines = textwrap.wrap(glued, width=WIDTH, initial_indent=" " * first_indent,
                          subsequent_indent="  ", break_long_words=False,
                          break_on_hyphens=False) or [""]
    lines[0] = lines[0][first_indent:]
    return [line.replace(_NBSP, " ") for line in lines]


def wrap(message: str, first_indent: int = 0) -> str:
    """``message`` wrapped at word boundaries, each hint on a line of its own.

    Parameters
    ----------
    message : a comparison's message, one or more lines (``""`` stays ``""``).
    first_indent : characters already in front of the first line (e.g. the case name).

    Returns
    -------
    str : lines of at most :data:`WIDTH` characters (a single word longer than that stays
        whole); a hint starts its own line as ``Hint: <text>``; continuation lines are indented
        by two spaces.
    """
    if type(message) is not str:
        raise TypeError(f"message must be a str, got {type(message).__name__}")
    out: list[str] = []
    for line in message.split("\n"):
        body, hint = _body_and_hint(line)
        if body or not hint:
            out.extend(_fill(body, first_indent if not out else 0))
        if hint:
            out.extend(_fill("Hint: " + hint, 0))
    return "\n".join(out) if message else ""


# --------------------------------------------------------------------------- raised errors
_MATMUL = re.compile(r"matmul: Input operand 1 has a mismatch in its core dimension 0.*?"
                     r"\(size (\d+) is different from (\d+)\)")
_DOT = re.compile(r"shapes \(([\d, ]*)\) and \(([\d, ]*)\) not aligned")
_CONCAT_NDIM = re.compile(r"all the input arrays must have same number of dimensions"
                          r"(?:, but the array at index (\d+) has (\d+) dimension\(s\) and the "
                          r"array at index (\d+) has (\d+) dimension\(s\))?")
_CONCAT_SIZE = re.compile(r"all the input array dimensions except for the concatenation axis")
_BROADCAST = re.compile(r"operands could not be broadcast together with (?:remapped )?shapes "
                        r"((?:\[?\([\d,]*\)\]? ?(?:->\s*\S+ ?)?)+)")
_BROADCAST_ANY = re.compile(r"operands could not be broadcast together")
_SHAPE = re.compile(r"\(([\d,]*)\)")
_RESHAPE = re.compile(r"cannot reshape array of size (\d+) into shape (\([^)]*\))")
_TOO_MANY_INDICES = re.compile(r"too many indices for array: array is (\d+)-dimensional, but "
                               r"(\d+) were indexed")
_OUT_OF_BOUNDS = re.compile(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)")
_NOT_ENOUGH_DIMS = re.compile(r"matmul: Input operand \d does not have enough dimensions")
_AXIS_OUT = re.compile(r"axis (-?\d+) is out of bounds for array of dimension (\d+)")
_INPLACE = re.compile(r"non-broadcastable output operand with shape (\([\d,]*\)) doesn't match "
                      r"the broadcast shape (\([\d,]*\))")
_STORE = re.compile(r"could not broadcast input array from shape (\([\d,]*\)) into shape "
                    r"(\([\d,]*\))")


def input_shapes(inputs) -> str:
    """``"X (6, 5), W (3, 5), params['W1'] (4, 5), ..."``: the shapes of a case's array inputs
    (one level of dicts looked into); private inputs are never named."""
    if type(inputs) is not dict:
        return ""
    parts = []
    for key, value in inputs.items():
        if type(key) is not str or key.startswith(PRIVATE_PREFIX):
            continue
        if type(value) is np.ndarray:
            parts.append(f"{key} {tuple(value.shape)}")
        elif type(value) is dict:
            parts.extend(f"{key}[{k!r}] {tuple(v.shape)}" for k, v in value.items()
                         if type(v) is np.ndarray)
    return ", ".join(parts)


def _dropped_axis(shapes: list[tuple[int, ...]]) -> bool:
    """True when one shape is another with its last axis dropped, as ``z.sum(axis=1)`` next to
    ``z`` gives: (B, K) and (B,)."""
    return any(len(a) == len(b) + 1 and a[:len(b)] == b and len(b) > 0
               for a in shapes for b in shapes)


def _transposed_pair(shapes: list[tuple[int, ...]]) -> tuple | None:
    """Two different 2-D shapes that are each other's transpose, (n, m) and (m, n), or None."""
    for a in shapes:
        for b in shapes:
            if len(a) == len(b) == 2 and a != b and a == b[::-1]:
                return a, b
    return None


def _axes(count) -> str:
    """``"1 axis"``, ``"2 axes"``."""
    return "1 axis" if int(count) == 1 else f"{int(count)} axes"


def explain_error(message: str, inputs: dict) -> str:
    """A hint for a NumPy shape error raised inside the student's function.

    Parameters
    ----------
    message : the error as the check reports it, e.g. ``"raised ValueError: matmul: Input
        operand 1 has a mismatch in its core dimension 0, ... (size 5 is different from 3)"``.
    inputs : the case's inputs (only the shapes of their arrays are used, and only when
        ``message`` does not already say what the function was ``(called with ...)``).

    Returns
    -------
    str : ``message`` plus a line ``Hint: ...`` for a mismatched matrix product (``@``,
        ``np.matmul``, ``np.dot``), a 1-D array stacked next to a 2-D one, arrays of different
        sizes joined, a sum or max that dropped its axis, shapes that do not broadcast, a
        number in a matrix product, a reshape to the wrong size, more indices than axes, an
        index past the end of an axis, an axis the array does not have, an in-place update or
        a stored value of the wrong shape; else ``message`` unchanged.
    """
    if type(message) is not str:
        raise TypeError(f"message must be a str, got {type(message).__name__}")
    shapes = "" if "(called with " in message else input_shapes(inputs)  # named once
    given = f" The inputs are {shapes}." if shapes else ""
    matmul, dot = _MATMUL.search(message), _DOT.search(message)
    if matmul or dot:
        if matmul:
            left, right = matmul.group(2), matmul.group(1)
        else:
            left = dot.group(1).split(",")[-1].strip() or "?"
            right = dot.group(2).split(",")[0].strip() or "?"
        hint = (f"a matrix product A @ B needs the last size of A to equal the first size of B; "
                f"here they are {left} and {right}, so one factor needs a transpose (.T). A "
                f"weight matrix W has shape (n_out, n_in): write the shape of each factor and of "
                f"the result you want, then decide which one needs .T.{given}")
    elif found := _CONCAT_NDIM.search(message):
        which = (f" (the array at index {found.group(1)} has {_axes(found.group(2))} and the "
                 f"one at index {found.group(3)} has {found.group(4)})" if found.group(1) else "")
        hint = (f"np.hstack / np.concatenate joins arrays with the same number of axes{which}: "
                "make the 1-D one a column first. A bias b of shape (n_out,) is 1-D, and so is "
                "np.ones(B): b[:, None] (or b.reshape(-1, 1)) is a column of shape (n_out, 1), "
                f"and np.ones((B, 1)) a column of ones.{given}")
    elif _CONCAT_SIZE.search(message):
        hint = ("the arrays you join must have the same size along every other axis: a column "
                f"of ones for a batch of B examples has shape (B, 1).{given}")
    elif _BROADCAST_ANY.search(message):
        found = _BROADCAST.search(message)
        listed = found.group(1) if found else ""
        dims = [tuple(int(d) for d in s.split(",") if d) for s in _SHAPE.findall(listed)]
        pair = _transposed_pair(dims)
        if pair:
            hint = (f"two of the arrays are each other's transpose, {pair[0]} and {pair[1]}: one "
                    "of them needs .T (a gradient has the shape of what it is the gradient of: "
                    f"dW like W, dX like X).{given}")
        elif _dropped_axis(dims):
            hint = ("a sum (or max, or mean) over axis=1 drops that axis, and a (B,) array does "
                    "not line up with a (B, K) one: keep the axis with keepdims=True, so that "
                    f"it has shape (B, 1).{given}")
        else:
            hint = ("NumPy lines up shapes from the right, and each pair of sizes must be equal "
                    f"or 1: write down the shape of every array in that line.{given}")
    elif _NOT_ENOUGH_DIMS.search(message):
        hint = ("@ multiplies arrays with at least one axis; one factor here is a number (a 0-d "
                f"array): scale by a number with *, not @.{given}")
    elif found := _RESHAPE.search(message):
        hint = (f"a reshape keeps every entry: {found.group(1)} entries cannot take the shape "
                f"{found.group(2)}; reshape to the shape the formula needs, and let -1 stand for "
                f"one size NumPy works out, e.g. b.reshape(-1, 1).{given}")
    elif found := _INPLACE.search(message):
        hint = (f"an in-place update (a += b, a -= b) keeps the shape of a, {found.group(1)}, but "
                f"the right-hand side makes it {found.group(2)}: give the right-hand side a's "
                "shape (a bias gradient summed over the batch, dz.sum(axis=0), has shape "
                f"(n_out,)).{given}")
    elif found := _STORE.search(message):
        hint = (f"a value of shape {found.group(1)} cannot be stored in a place of shape "
                f"{found.group(2)}: check the slice you assign to (row i of a (B, K) array, "
                f"out[i], has shape (K,)) and the shape of the value.{given}")
    elif found := _AXIS_OUT.search(message):
        ndim = int(found.group(2))
        if ndim == 0:
            hint = ("the array is a single number (0 axes): it was already summed or reduced "
                    f"over every axis, so it has no axis {found.group(1)} left.{given}")
        else:
            valid = "only axis 0" if ndim == 1 else f"axes 0 to {ndim - 1}"
            hint = (f"an array with {_axes(ndim)} has {valid} (axis=-1 is the last one): for a "
                    "batch of shape (B, K), axis=0 runs over the examples and axis=1 over the "
                    f"classes or units; print .shape of the array.{given}")
    elif found := _TOO_MANY_INDICES.search(message):
        hint = (f"the array has {_axes(found.group(1))} and you index {found.group(2)}: a "
                "bias b of shape (n_out,) is 1-D (b[i], not b[:, i]); print .shape of each "
                f"array you index.{given}")
    elif found := _OUT_OF_BOUNDS.search(message):
        hint = (f"axis {found.group(2)} has {found.group(3)} entries (indices 0 to "
                f"{int(found.group(3)) - 1}): a loop bound or an index taken from another "
                f"array's shape; a batch has one example per row (axis 0).{given}")
    else:
        return message
    return f"{message}\nHint: {hint}"


# --------------------------------------------------------------------------- the case
def wrapped(compare, name: str):
    """``compare`` whose message is laid out by :func:`wrap` for a case called ``name``."""
    def judged(actual, expected, inputs):
        credit, message = compare(actual, expected, inputs)
        return credit, wrap(message, len(name) + 4)
    return judged


@dataclass(frozen=True)
class HintedCase(Case):
    """A :class:`Case` whose messages are wrapped and whose raised NumPy shape errors get a hint.

    Build it like a ``Case``; ``compare``'s messages are passed through :func:`wrap` (once, at
    construction), and the checks call :meth:`explain_error` on the message of an exception.
    """

    def __post_init__(self):
        if not getattr(self.compare, "_wrapped_by_messages", False):
            judged = wrapped(self.compare, self.name)
            judged._wrapped_by_messages = True
            object.__setattr__(self, "compare", judged)

    def explain_error(self, message: str, inputs: dict) -> str:
        """See :func:`explain_error`; the result is wrapped like every other message."""
        return wrap(explain_error(message, inputs), len(self.name) + 4)
