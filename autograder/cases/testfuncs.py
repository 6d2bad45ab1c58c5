"""Plain-NumPy functions that graded code is called on or timed against.

This file imports nothing but NumPy (no ``course``, no ``autograder``) so the sandbox of the
batch grader can load it as a plain file. Two kinds of content:

* scalar test functions ``f(x) -> float`` for the student's ``numerical_gradient``; a
  :class:`autograder.cases.spec.CallableArg` names one of them plus its parameter arrays and
  :func:`build` turns it into a callable (in-process or inside the sandbox);
* :func:`baseline_backprop`, the vectorized baseline a student's ``backprop`` is timed against.
"""
from __future__ import annotations

import numpy as np


def weighted_square(x, c, d):
    """f(x) = sum(c * x**2) + sum(d * x); gradient 2 c x + d. ``c``, ``d`` shaped like x."""
    return float(np.sum(c * x * x) + np.sum(d * x))


def sine_sum(x, a):
    """f(x) = sum(sin(a * x)); gradient a cos(a x). ``a`` shaped like x."""
    return float(np.sum(np.sin(a * x)))


def softmax_ce(x, Y):
    """Mean softmax cross-entropy of logits x (B, K) against one-hot Y (B, K).

    f(x) = -(1/B) sum_b sum_k Y_bk log softmax(x_b)_k; gradient (softmax(x) - Y) / B.
    """
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return float(-np.sum(Y * log_probs) / x.shape[0])


FUNCTIONS = {"weighted_square": weighted_square, "sine_sum": sine_sum, "softmax_ce": softmax_ce}
"""Registry of the scalar test functions, by the name a ``CallableArg`` carries."""


def build(name, arrays):
    """The callable ``f(x) -> float`` named ``name`` with its parameter ``arrays`` bound.

    Parameters
    ----------
    name : key of :data:`FUNCTIONS`.
    arrays : dict of parameter arrays; copied and made read-only, so the student cannot alter them.
    """
    if name not in FUNCTIONS:
        raise ValueError(f"name must be one of {sorted(FUNCTIONS)}, got {name!r}")
    func = FUNCTIONS[name]
    frozen = {}
    for key, value in arrays.items():
        arr = np.array(value, dtype=np.float64, copy=True)
        arr.flags.writeable = False
        frozen[key] = arr

    def f(x):
        return func(np.asarray(x, dtype=np.float64), **frozen)

    f.__name__ = name
    return f


def baseline_backprop(X, Y, params):
    """Vectorized backprop for X -> ReLU -> ReLU -> softmax with mean softmax-CE (eq. 23a-d).

    Parameters
    ----------
    X : (B, N) inputs; Y : (B, C) one-hot targets;
    params : {"W1": (K, N), "b1": (K,), "W2": (J, K), "b2": (J,), "W3": (C, J), "b3": (C,)}.

    Returns
    -------
    grads : dict with the same keys and shapes as ``params``.
    """
    W1, b1, W2, b2, W3, b3 = (params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    B = X.shape[0]
    z1 = X @ W1.T + b1
    a1 = np.maximum(z1, 0.0)
    z2 = a1 @ W2.T + b2
    a2 = np.maximum(z2, 0.0)
    z3 = a2 @ W3.T + b3
    e = np.exp(z3 - z3.max(axis=1, keepdims=True))
    dz3 = (e / e.sum(axis=1, keepdims=True) - Y) / B
    dz2 = (dz3 @ W3) * (z2 > 0)
    dz1 = (dz2 @ W2) * (z1 > 0)
    return {"W1": dz1.T @ X, "b1": dz1.sum(axis=0), "W2": dz2.T @ a1, "b2": dz2.sum(axis=0),
            "W3": dz3.T @ a2, "b3": dz3.sum(axis=0)}
