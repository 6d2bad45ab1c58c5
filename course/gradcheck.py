"""Gradient checking: centred differences against backprop.

The library has exactly one numerical gradient (:func:`numerical_gradient`) and one error measure
(:func:`rel_error`); lectures, assignments and tests use these two.

The centred difference (f(x + h e_i) - f(x - h e_i)) / 2h has truncation error O(h^2) and rounding
error about eps |f| / h; h = 1e-5 in float64 balances the two, so an exact backprop agrees to about
1e-9 and ``rel_error < 1e-7`` passes, while a wrong formula (typically 1e-1 or worse) fails.
"""
from __future__ import annotations

import itertools
import math
import warnings

from .backend import array_namespace
from .validation import as_array, check_float_array


def numerical_gradient(f, x, h: float = 1e-5):
    """Centred-difference gradient of a scalar function with respect to the array ``x``.

    Contract
    --------
    * ``f()`` takes no arguments and returns a real scalar (a float, or an array with one entry);
      it must read ``x`` itself, typically through a closure: ``lambda: loss(x, y)``.
    * ``x`` is a float array of any shape (float64 advised: in float32 the step h = 1e-5 is lost
      in rounding). It is modified in place, one entry at a time, and every entry is restored,
      even when ``f`` raises. It must be an array already, not a list: a converted copy would
      not be what ``f`` reads.
    * Cost: 2 x.size calls of ``f``.

    Parameters
    ----------
    f : callable, ``f() -> float``.
    x : float array of any shape; the variable.
    h : positive float, the step.

    Returns
    -------
    grad : array of x's shape, dtype and namespace, with
        grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h).
    """
    xp = check_float_array(x, "x")
    if not callable(f):
        raise TypeError(f"f must be a callable returning a float, got {type(f).__name__}")
    if isinstance(h, bool) or not isinstance(h, float) or not h > 0:
        raise ValueError(f"h must be a positive float, got {h!r}")
    values = []
    for index in itertools.product(*(range(n) for n in x.shape)):
        original = float(x[index])
        try:
            x[index] = original + h
            f_plus = _scalar(f())
            x[index] = original - h
            f_minus = _scalar(f())
        finally:
            x[index] = original
        values.append((f_plus - f_minus) / (2.0 * h))
    return xp.reshape(xp.asarray(values, dtype=x.dtype), x.shape)


def _scalar(value) -> float:
    """The float returned by ``f``; an array must hold exactly one entry."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        if tuple(value.shape) != () and value.size != 1:
            raise ValueError(f"f must return a scalar, got an array of shape {tuple(value.shape)}")
        value = array_namespace(value).reshape(value, ())
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"f must return a real number, got {type(value).__name__}") from err


def rel_error(a, b) -> float:
    """Relative error max|a - b| / max(max|a|, max|b|), the largest entrywise error scaled by the
    largest entry.

    Contract
    --------
    * ``a`` and ``b`` are real numbers or arrays (or array-likes such as lists) of the same shape,
      from one array library.
    * Returns a float in [0, 2] (2 only for a = -b); 0.0 when both are all zeros or empty.
    * Symmetric: ``rel_error(a, b) == rel_error(b, a)``. Scale-free: multiplying both by c != 0
      does not change it.
    * NaN when an entry is NaN or infinite, so a check ``rel_error(a, b) < tol`` fails on them.
    * Typical thresholds: < 1e-7 for an exact gradient in float64 against centred differences.

    Raises ``ValueError`` when the shapes differ (no broadcasting).
    """
    a = as_array(a, "a")
    b = as_array(b, "b", array_namespace(a))
    xp = array_namespace(a, b)
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"a and b must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.size == 0:
        return 0.0
    if not xp.isdtype(a.dtype, "real floating"):
        a = xp.astype(a, xp.float64)
    if not xp.isdtype(b.dtype, "real floating"):
        b = xp.astype(b, xp.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf gives NaN, which we return
        diff = float(xp.max(xp.abs(a - b)))
        scale = max(float(xp.max(xp.abs(a))), float(xp.max(xp.abs(b))))
    if not math.isfinite(diff) or not math.isfinite(scale):
        return float("nan")
    return 0.0 if scale == 0 else diff / scale


def check_model_gradients(model, X, y, h: float = 1e-5) -> dict:
    """Compare ``model.backward`` with centred differences of ``model.loss`` for every parameter.

    model : a :class:`course.network.MLP` (float64 advised); X (B, n^[0]) and y its inputs and
    targets. Returns ``{"W1": err, "b1": err, ...}`` with the :func:`rel_error` of each parameter's
    gradient (layer numbers from 1).
    """
    _, grads = model.backward(X, y)
    errors = {}
    for index, (layer, grad) in enumerate(zip(model.params, grads), start=1):
        for key in ("W", "b"):
            numeric = numerical_gradient(lambda: model.loss(X, y), layer[key], h)
            errors[f"{key}{index}"] = rel_error(grad[key], numeric)
    return errors
