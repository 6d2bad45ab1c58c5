"""Loss functions. Each returns ``(loss, grad)``: the mean over the batch and its gradient.

Notation: B examples, K classes; ``y_hat`` are the network's outputs, ``y`` the targets.
Class targets may be integer labels of shape (B,) or rows of shape (B, K) (called Y, the deck's
y-tilde): one-hot rows, or soft labels such as [0.3, 0.7], i.e. any non-negative rows that sum
to 1. Every loss is the *mean* over the batch, so every gradient carries 1/B, and an empty batch
(B = 0) is refused with a ``ValueError``. Inputs may be arrays or array-likes (lists, tuples,
``np.matrix``, pandas objects): see ``course.validation``.

=========================================  ==========================================  =====================
loss                                       value                                       gradient
=========================================  ==========================================  =====================
zero_one_loss (y_hat, y)                   fraction misclassified                      0 (no signal)
mse (y_hat, y)                             1/B sum_b ||y_hat_b - y_b||^2               2 (y_hat - y) / B
binary_cross_entropy (y_hat, y)            -1/B sum [y log y_hat + (1-y) log(1-y_hat)] wrt y_hat
binary_cross_entropy_with_logits (z, y)    same with y_hat = sigmoid(z), stable        (sigmoid(z) - y) / B
cross_entropy (y_hat, y)                   -1/B sum_b sum_k Y_bk log y_hat_bk          -Y / y_hat / B
softmax_cross_entropy (z, y)               cross_entropy(softmax(z), y), stable        (softmax(z) - Y) / B
kl_divergence (p, q)                       1/B sum_b sum_k p log(p / q)                -p / q / B (wrt q)
=========================================  ==========================================  =====================

Probability clipping
--------------------
The losses that take probabilities (``binary_cross_entropy``, ``cross_entropy`` and
``kl_divergence``'s q) take a log of them, and log(0) = -inf. Before the log each probability p is
clipped to [eps, 1 - eps] (binary cross-entropy) or [eps, 1] (the others), where eps is the machine
epsilon of p's dtype: 2.2e-16 for float64, 1.2e-7 for float32. So a confident wrong prediction
costs at most -log(eps) = 36.0 (float64) or 15.9 (float32) per example instead of infinity.
The gradient is the formula of the table evaluated at the clipped p: inside [eps, 1 - eps] this is
exactly the gradient of the returned loss; where p was clipped, the returned loss no longer moves
with p (its true derivative is 0) but the returned gradient is the finite value at the clip point
(for example -y / eps / B), so a saturated wrong prediction still receives a push in the right
direction. The losses on logits (``*_with_logits``, ``softmax_cross_entropy``) need no clipping:
they are exact for any finite logits.
"""
from __future__ import annotations

import math

from .activations import log_softmax, sigmoid
from .backend import array_namespace
from .validation import (
    as_array,
    check_batch,
    check_binary_targets,
    check_choice,
    check_float_array,
    check_labels,
    check_same_shape,
)


def _clip_eps(xp, dtype) -> float:
    """Probabilities are clipped to [eps, 1 - eps] before a log, so log(0) never appears; eps is
    the machine epsilon of ``dtype`` (see "Probability clipping" in the module docstring)."""
    return float(xp.finfo(dtype).eps)


def _float_input(x, name: str, ndim):
    """Convert a data argument, check it is a finite float array of rank ``ndim`` holding at least
    one example, and return it with its namespace."""
    x = as_array(x, name)
    xp = check_float_array(x, name, ndim=ndim, nonempty=True)
    return x, xp


def class_targets(y, num_classes: int, dtype, name: str = "y", xp=None):
    """Return target rows Y of shape (B, K) from labels (B,) or rows (B, K).

    Parameters
    ----------
    y : (B,) integer labels in [0, K), or (B, K) rows: one-hot or soft labels (non-negative,
        each row summing to 1 within sqrt(eps) of the dtype). Integer rows are accepted too.
    num_classes : K.
    dtype : float dtype of the result.
    name : argument name used in error messages.
    xp : namespace for array-likes (lists); default the library's default namespace.

    Returns
    -------
    Y : (B, K) float array of ``dtype``; labels become one-hot rows, and rows are divided by their
        sums, which removes the rounding of soft labels (one-hot rows are unchanged), so that every
        row sums to 1 as the gradient (softmax(z) - Y) / B of ``softmax_cross_entropy`` assumes.

    Rows that do not sum to 1 within the tolerance (say [0.3, 0.3] or multi-hot [1, 1]) are
    refused: they are not class probabilities.
    """
    y = as_array(y, name, xp)
    xp = array_namespace(y)
    if xp.isdtype(y.dtype, "integral") and y.ndim == 1:
        check_labels(y, name, num_classes)
        classes = xp.arange(num_classes, dtype=y.dtype)
        return xp.astype(xp.expand_dims(y, axis=1) == classes, dtype)
    if y.ndim != 2 or not xp.isdtype(y.dtype, ("integral", "real floating")):
        raise ValueError(
            f"{name} must be integer class labels of shape (B,) or one-hot rows of shape "
            f"(B, {num_classes}), got dtype {y.dtype} and shape {tuple(y.shape)}"
        )
    if y.shape[1] != num_classes:
        raise ValueError(
            f"{name} must have shape (B, {num_classes}) (one row per example, one column per class), "
            f"got {tuple(y.shape)}"
        )
    y = xp.astype(y, dtype, copy=False)
    check_float_array(y, name, ndim=2)
    if not bool(xp.all(y >= 0)):
        raise ValueError(f"{name} must hold class probabilities (one-hot or soft-label rows), got negative values")
    row_sums = xp.sum(y, axis=1)
    tolerance = math.sqrt(float(xp.finfo(dtype).eps))
    off = xp.abs(row_sums - 1.0) > tolerance
    if bool(xp.any(off)):
        row = int(xp.argmax(xp.astype(off, xp.int32)))
        raise ValueError(
            f"{name} must hold class probabilities: every row must sum to 1 (one-hot or soft labels), "
            f"got row {row} summing to {float(row_sums[row]):.6g}"
        )
    return y / xp.expand_dims(row_sums, axis=1)


def _binary_targets(y, xp, dtype, name: str = "y"):
    """Targets of shape (B,) holding 0 and 1 as floats of ``dtype``; integer or boolean 0/1 are converted."""
    y = as_array(y, name, xp)
    target_xp = array_namespace(y)
    if not target_xp.isdtype(y.dtype, "real floating"):
        y = target_xp.astype(y, dtype)
    check_binary_targets(y, name)
    return y


def zero_one_loss(y_hat, y):
    """0-1 loss: the fraction of misclassified examples. Its gradient is zero almost everywhere,
    which is why it cannot be trained by gradient descent.

    y_hat : (B,) probabilities (class 1 where y_hat >= 0.5) or (B, K) scores (argmax).
    y : (B,) labels: integers, or floats holding whole numbers (0.0/1.0 for a (B,) y_hat).
    Returns the fraction and a zero gradient shaped like y_hat.
    """
    y_hat, xp = _float_input(y_hat, "y_hat", (1, 2))
    y = as_array(y, "y", xp)
    check_batch(y_hat, "y_hat", y, "y")
    if y.ndim != 1:
        raise ValueError(f"y must have shape (B,) (one label per example), got {tuple(y.shape)}")
    if xp.isdtype(y.dtype, "real floating"):
        check_float_array(y, "y")
        if not bool(xp.all(y == xp.round(y))):
            raise ValueError("y must hold whole-number class labels, got fractional values")
        y = xp.astype(y, xp.int64)
    if y_hat.ndim == 1:
        predicted = xp.astype(y_hat >= 0.5, xp.int64)
    else:
        predicted = xp.argmax(y_hat, axis=1)
    wrong = xp.astype(predicted != xp.astype(y, xp.int64), y_hat.dtype)
    return float(xp.mean(wrong)), xp.zeros_like(y_hat)


def mse(y_hat, y):
    """Mean squared error L = 1/B sum_b ||y_hat_b - y_b||^2 (deck 000), grad 2 (y_hat - y) / B.

    y_hat, y : (B,) or (B, K), same shape, B >= 1.
    """
    y_hat, xp = _float_input(y_hat, "y_hat", (1, 2))
    y = as_array(y, "y", xp)
    check_float_array(y, "y", ndim=(1, 2))
    check_same_shape(y_hat, "y_hat", y, "y")
    batch = y_hat.shape[0]
    diff = y_hat - y
    return float(xp.sum(diff * diff)) / batch, (2.0 / batch) * diff


def binary_cross_entropy(y_hat, y):
    """Binary cross-entropy on probabilities, CE(y_hat, v) = -v log y_hat - (1 - v) log(1 - y_hat).

    y_hat : (B,) probabilities in [0, 1], clipped to [eps, 1 - eps] before the log (eps = machine
        epsilon of the dtype; see "Probability clipping" in the module docstring).
    y : (B,) targets 0 or 1 (floats; integer or boolean 0/1 are converted).
    Returns the mean over the batch and dL/dy_hat = (-y / p + (1 - y) / (1 - p)) / B with p the
    clipped y_hat.
    """
    y_hat, xp = _float_input(y_hat, "y_hat", 1)
    y = _binary_targets(y, xp, y_hat.dtype)
    check_same_shape(y_hat, "y_hat", y, "y")
    if not bool(xp.all((y_hat >= 0) & (y_hat <= 1))):
        raise ValueError("y_hat must hold probabilities in [0, 1]; for logits use binary_cross_entropy_with_logits")
    eps = _clip_eps(xp, y_hat.dtype)
    p = xp.clip(y_hat, eps, 1.0 - eps)
    batch = y_hat.shape[0]
    loss = -xp.sum(y * xp.log(p) + (1.0 - y) * xp.log(1.0 - p)) / batch
    grad = (-y / p + (1.0 - y) / (1.0 - p)) / batch
    return float(loss), grad


def binary_cross_entropy_with_logits(z, y):
    """Binary cross-entropy of sigmoid(z), computed stably from the logit z (no clipping needed).

    CE = max(z, 0) - z y + log(1 + exp(-|z|)), exact for any finite z (no exp overflow).
    z : (B,) logits; y : (B,) targets 0 or 1 (integer or boolean 0/1 are converted).
    Gradient dL/dz = (sigmoid(z) - y) / B.
    """
    z, xp = _float_input(z, "z", 1)
    y = _binary_targets(y, xp, z.dtype)
    check_same_shape(z, "z", y, "y")
    batch = z.shape[0]
    positive = xp.where(z > 0, z, xp.zeros_like(z))
    per_example = positive - z * y + xp.log1p(xp.exp(-xp.abs(z)))
    return float(xp.sum(per_example)) / batch, (sigmoid(z) - y) / batch


def cross_entropy(y_hat, y):
    """Categorical cross-entropy on probabilities: L = -1/B sum_b sum_k Y_bk log y_hat_bk,
    which is -1/B sum_b log y_hat[b, v_b] for labels v.

    y_hat : (B, K) probabilities (rows sum to 1), clipped to [eps, 1] before the log (eps = machine
        epsilon of the dtype; see "Probability clipping" in the module docstring).
    y : (B,) integer labels, or (B, K) one-hot or soft-label rows Y (non-negative, rows sum to 1).
    Returns the mean and dL/dy_hat = -Y / p / B with p the clipped y_hat.
    """
    y_hat, xp = _float_input(y_hat, "y_hat", 2)
    targets = class_targets(y, y_hat.shape[1], y_hat.dtype, xp=xp)
    check_batch(y_hat, "y_hat", targets, "y")
    if not bool(xp.all((y_hat >= 0) & (y_hat <= 1))):
        raise ValueError("y_hat must hold probabilities in [0, 1]; for logits use softmax_cross_entropy")
    p = xp.clip(y_hat, _clip_eps(xp, y_hat.dtype), 1.0)
    batch = y_hat.shape[0]
    return float(-xp.sum(targets * xp.log(p))) / batch, -targets / p / batch


def softmax_cross_entropy(z, y):
    """Softmax followed by cross-entropy, fused and computed from the logits z.

    z : (B, K) logits with K >= 2 (softmax over one class is always 1: nothing would train).
    y : (B,) integer labels, or (B, K) one-hot or soft-label rows Y (non-negative, rows sum to 1).
    L = -1/B sum_b sum_k Y_bk log softmax(z_b)_k (log-sum-exp, finite for logits of +-1000).
    Gradient dL/dz = (softmax(z) - Y) / B, the y_hat - y_tilde of eq. 21d / 23d. It holds because
    every row of Y sums to 1: dL/dz_bj = (softmax(z_b)_j sum_k Y_bk - Y_bj) / B.
    """
    z, xp = _float_input(z, "z", 2)
    if z.shape[1] < 2:
        raise ValueError(
            f"z must have at least 2 columns (one per class), got shape {tuple(z.shape)}: softmax over "
            "one class is always 1, so nothing trains; for two classes use one logit with "
            "binary_cross_entropy_with_logits"
        )
    targets = class_targets(y, z.shape[1], z.dtype, xp=xp)
    check_batch(z, "z", targets, "y")
    log_p = log_softmax(z)
    batch = z.shape[0]
    loss = -float(xp.sum(targets * log_p)) / batch
    return loss, (xp.exp(log_p) - targets) / batch


def kl_divergence(p, q):
    """Kullback-Leibler divergence KL(p || q) = 1/B sum_b sum_k p log(p / q), with 0 log 0 = 0.

    p, q : (B, K) distributions (non-negative; rows should sum to 1). q is clipped to [eps, 1]
        before the log (see "Probability clipping" in the module docstring).
    Gradient with respect to q: -p / q_c / B with q_c the clipped q.
    KL(p || q) = CE(p, q) - H(p): minimising cross-entropy over q minimises KL.
    """
    p, xp = _float_input(p, "p", 2)
    q = as_array(q, "q", xp)
    check_float_array(q, "q", ndim=2)
    check_same_shape(p, "p", q, "q")
    if not bool(xp.all(p >= 0)) or not bool(xp.all(q >= 0)):
        raise ValueError("p and q must hold probabilities (non-negative entries)")
    eps = _clip_eps(xp, q.dtype)
    q_safe = xp.clip(q, eps, 1.0)
    p_safe = xp.where(p > 0, p, xp.ones_like(p))
    terms = xp.where(p > 0, p * (xp.log(p_safe) - xp.log(q_safe)), xp.zeros_like(p))
    batch = p.shape[0]
    return float(xp.sum(terms)) / batch, -p / q_safe / batch


LOSSES = {
    "zero_one": zero_one_loss,
    "mse": mse,
    "binary_cross_entropy": binary_cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits,
    "cross_entropy": cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
    "kl_divergence": kl_divergence,
}


def get_loss(name: str):
    """Return the loss function called ``name`` (see ``LOSSES`` for the names)."""
    check_choice(name, "loss", LOSSES)
    return LOSSES[name]
