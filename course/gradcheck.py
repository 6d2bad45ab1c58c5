"""Gradient checking: centred differences against backprop.

The centred difference (f(x + h e_i) - f(x - h e_i)) / 2h has error O(h^2); with h = 1e-5 in
float64 (h = 1e-5 balances truncation against rounding) an exact backprop agrees to ~1e-9, so ``rel_error < 1e-7`` passes
and a wrong formula (typically 1e-1 or worse) fails.
"""
from __future__ import annotations

import itertools

from .backend import array_namespace
from .validation import check_float_array


def numerical_gradient(f, x, h: float = 1e-5):
    """Centred-difference gradient of a scalar function with respect to the array ``x``.

    Parameters
    ----------
    f : callable with no arguments returning a float; it must read ``x`` (which is modified
        in place, one entry at a time, and restored).
    x : float array of any shape.
    h : step.

    Returns
    -------
    grad : array shaped like ``x`` with grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h).
    """
    xp = check_float_array(x, "x")
    if not callable(f):
        raise ValueError(f"f must be a callable returning a float, got {type(f).__name__}")
    if not (isinstance(h, float) and h > 0):
        raise ValueError(f"h must be a positive float, got {h!r}")
    values = []
    for index in itertools.product(*(range(n) for n in x.shape)):
        original = float(x[index])
        x[index] = original + h
        f_plus = float(f())
        x[index] = original - h
        f_minus = float(f())
        x[index] = original
        values.append((f_plus - f_minus) / (2.0 * h))
    return xp.reshape(xp.asarray(values, dtype=x.dtype), x.shape)


def rel_error(a, b) -> float:
    """Relative error max|a - b| / max(max|a|, max|b|), 0 when both are zero.

    a, b : arrays of the same shape (or floats).
    """
    xp = array_namespace(a, b) if hasattr(a, "shape") and hasattr(b, "shape") else None
    if xp is None:
        a, b = float(a), float(b)
        scale = max(abs(a), abs(b))
        return 0.0 if scale == 0 else abs(a - b) / scale
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.size == 0:
        return 0.0
    scale = max(float(xp.max(xp.abs(a))), float(xp.max(xp.abs(b))))
    return 0.0 if scale == 0 else float(xp.max(xp.abs(a - b))) / scale


def check_model_gradients(model, X, y, h: float = 1e-5) -> dict:
    """Compare ``model.backward`` with centred differences of ``model.loss`` for every parameter.

    Returns ``{"W1": err, "b1": err, ...}`` with the relative error of each parameter's gradient.
    """
    _, grads = model.backward(X, y)
    errors = {}
    for index, (layer, grad) in enumerate(zip(model.params, grads), start=1):
        for key in ("W", "b"):
            numeric = numerical_gradient(lambda: model.loss(X, y), layer[key], h)
            errors[f"{key}{index}"] = rel_error(grad[key], numeric)
    return errors
