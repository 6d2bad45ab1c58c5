"""Plain-NumPy functions that graded code is called on or timed against.

This file imports nothing but NumPy (no ``course``, no ``autograder``) so the sandbox of the
batch grader can load it as a plain file. Two kinds of content:

* scalar test functions ``f(x) -> float`` for the student's ``numerical_gradient``; a
  :class:`autograder.cases.spec.CallableArg` names one of them plus its parameter arrays and
  :func:`build` turns it into a callable (in-process or inside the sandbox);
* :func:`baseline_backprop_layers`, the vectorized baseline a student's ``backprop`` is timed
  against.
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


def _hidden_activation(name, z):
    """(g(z), g'(z)) of a hidden activation "relu", "sigmoid" or "tanh"."""
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(z.dtype)
    if name == "tanh":
        a = np.tanh(z)
        return a, 1.0 - a * a
    if name == "sigmoid":
        a = 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for any z
        return a, a * (1.0 - a)
    raise ValueError(f"activation must be 'relu', 'sigmoid' or 'tanh', got {name!r}")


def baseline_backprop_layers(X, Y, params, activations, loss):
    """Vectorized backprop of an L-layer network (eq. 23a-d in batch-first rows).

    Parameters
    ----------
    X : (B, n_0) inputs; Y : (B, n_L) targets;
    params : {"W1": (n_1, n_0), "b1": (n_1,), ..., "WL": (n_L, n_{L-1}), "bL": (n_L,)};
    activations : L - 1 names of the hidden activations ("relu", "sigmoid", "tanh");
    loss : "softmax_ce", "sigmoid_bce" or "identity_mse" (mean over the batch of the
        per-example loss; the output delta is y_hat - y, y_hat - y and 2 (y_hat - y)).

    Returns
    -------
    grads : dict with the same keys and shapes as ``params``.
    """
    L = len(activations) + 1
    B = X.shape[0]
    inputs, derivatives, a = [X], [], X
    for layer in range(1, L):
        a, slope = _hidden_activation(activations[layer - 1], a @ params[f"W{layer}"].T + params[f"b{layer}"])
        inputs.append(a)
        derivatives.append(slope)
    z = a @ params[f"W{L}"].T + params[f"b{L}"]
    if loss == "softmax_ce":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        dz = (e / e.sum(axis=1, keepdims=True) - Y) / B
    elif loss == "sigmoid_bce":
        dz = (0.5 * (1.0 + np.tanh(0.5 * z)) - Y) / B
    elif loss == "identity_mse":
        dz = 2.0 * (z - Y) / B
    else:
        raise ValueError(f"loss must be 'softmax_ce', 'sigmoid_bce' or 'identity_mse', got {loss!r}")
    grads = {}
    for layer in range(L, 0, -1):
        grads[f"W{layer}"] = dz.T @ inputs[layer - 1]
        grads[f"b{layer}"] = dz.sum(axis=0)
        if layer > 1:
            dz = (dz @ params[f"W{layer}"]) * derivatives[layer - 2]
    return grads
