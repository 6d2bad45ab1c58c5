"""Loss functions. Each returns ``(loss, grad)``: the mean over the batch and its gradient.

Notation: B examples, K classes; ``y_hat`` are the network's outputs, ``y`` the targets.
Class targets may be integer labels of shape (B,) or one-hot rows of shape (B, K) (called Y,
the deck's y-tilde). Every loss is the *mean* over the batch, so every gradient carries 1/B.

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
"""
from __future__ import annotations

from .activations import log_softmax, sigmoid
from .backend import array_namespace
from .validation import (
    check_batch,
    check_binary_targets,
    check_choice,
    check_float_array,
    check_labels,
    check_same_shape,
)


def _clip_eps(xp, dtype) -> float:
    """Probabilities are clipped to [eps, 1 - eps] before a log, so log(0) never appears."""
    return float(xp.finfo(dtype).eps)


def class_targets(y, num_classes: int, dtype, name: str = "y"):
    """Return one-hot targets Y of shape (B, K) from labels (B,) or one-hot (B, K)."""
    xp = array_namespace(y)
    if xp.isdtype(y.dtype, "integral"):
        check_labels(y, name, num_classes)
        classes = xp.arange(num_classes, dtype=y.dtype)
        return xp.astype(xp.expand_dims(y, axis=1) == classes, dtype)
    if y.ndim != 2:
        raise ValueError(
            f"{name} must be integer class labels of shape (B,) or one-hot rows of shape "
            f"(B, {num_classes}), got dtype {y.dtype} and shape {tuple(y.shape)}"
        )
    check_float_array(y, name, ndim=2)
    if y.shape[1] != num_classes:
        raise ValueError(
            f"{name} must have shape (B, {num_classes}) (one row per example, one column per class), "
            f"got {tuple(y.shape)}"
        )
    if not bool(xp.all(y >= 0)):
        raise ValueError(f"{name} must hold class probabilities (one-hot rows), got negative values")
    return xp.astype(y, dtype)


def zero_one_loss(y_hat, y):
    """0-1 loss: the fraction of misclassified examples. Its gradient is zero almost everywhere,
    which is why it cannot be trained by gradient descent.

    y_hat : (B,) probabilities (class 1 where y_hat >= 0.5) or (B, K) scores (argmax).
    y : (B,) labels (0/1 floats or integers).
    """
    xp = check_float_array(y_hat, "y_hat", ndim=(1, 2))
    check_batch(y_hat, "y_hat", y, "y")
    if y_hat.ndim == 1:
        predicted = xp.astype(y_hat >= 0.5, xp.int64)
    else:
        predicted = xp.argmax(y_hat, axis=1)
    labels = y if xp.isdtype(y.dtype, "integral") else xp.astype(y, xp.int64)
    wrong = xp.astype(predicted != labels, y_hat.dtype)
    return float(xp.mean(wrong)), xp.zeros_like(y_hat)


def mse(y_hat, y):
    """Mean squared error L = 1/B sum_b ||y_hat_b - y_b||^2 (deck 000), grad 2 (y_hat - y) / B.

    y_hat, y : (B,) or (B, K), same shape.
    """
    xp = check_float_array(y_hat, "y_hat", ndim=(1, 2))
    check_float_array(y, "y", ndim=(1, 2))
    check_same_shape(y_hat, "y_hat", y, "y")
    batch = y_hat.shape[0]
    diff = y_hat - y
    return float(xp.sum(diff * diff)) / batch, (2.0 / batch) * diff


def binary_cross_entropy(y_hat, y):
    """Binary cross-entropy on probabilities, CE(y_hat, v) = -v log y_hat - (1 - v) log(1 - y_hat).

    y_hat : (B,) probabilities in [0, 1], clipped to [eps, 1 - eps] before the log.
    y : (B,) targets 0 or 1 (float).
    Returns the mean over the batch and dL/dy_hat = (-y / y_hat + (1 - y) / (1 - y_hat)) / B.
    """
    xp = check_float_array(y_hat, "y_hat", ndim=1)
    check_binary_targets(y, "y")
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
    """Binary cross-entropy of sigmoid(z), computed stably from the logit z.

    CE = max(z, 0) - z y + log(1 + exp(-|z|)), exact for any z (no exp overflow).
    z : (B,) logits; y : (B,) targets 0 or 1. Gradient dL/dz = (sigmoid(z) - y) / B.
    """
    xp = check_float_array(z, "z", ndim=1)
    check_binary_targets(y, "y")
    check_same_shape(z, "z", y, "y")
    batch = z.shape[0]
    positive = xp.where(z > 0, z, xp.zeros_like(z))
    per_example = positive - z * y + xp.log1p(xp.exp(-xp.abs(z)))
    return float(xp.sum(per_example)) / batch, (sigmoid(z) - y) / batch


def cross_entropy(y_hat, y):
    """Categorical cross-entropy on probabilities: L = -1/B sum_b log y_hat[b, v_b].

    y_hat : (B, K) probabilities (rows sum to 1), clipped to >= eps before the log.
    y : (B,) integer labels or (B, K) one-hot Y.
    Returns the mean and dL/dy_hat = -Y / y_hat / B.
    """
    xp = check_float_array(y_hat, "y_hat", ndim=2)
    check_batch(y_hat, "y_hat", y, "y")
    targets = class_targets(y, y_hat.shape[1], y_hat.dtype)
    if not bool(xp.all((y_hat >= 0) & (y_hat <= 1))):
        raise ValueError("y_hat must hold probabilities in [0, 1]; for logits use softmax_cross_entropy")
    p = xp.clip(y_hat, _clip_eps(xp, y_hat.dtype), 1.0)
    batch = y_hat.shape[0]
    return float(-xp.sum(targets * xp.log(p))) / batch, -targets / p / batch


def softmax_cross_entropy(z, y):
    """Softmax followed by cross-entropy, fused and computed from the logits z.

    z : (B, K) logits; y : (B,) integer labels or (B, K) one-hot Y.
    L = -1/B sum_b sum_k Y_bk log softmax(z_b)_k (log-sum-exp, finite for logits of +-1000).
    Gradient dL/dz = (softmax(z) - Y) / B, the y_hat - y_tilde of eq. 21d / 23d.
    """
    xp = check_float_array(z, "z", ndim=2)
    check_batch(z, "z", y, "y")
    targets = class_targets(y, z.shape[1], z.dtype)
    log_p = log_softmax(z)
    batch = z.shape[0]
    loss = -float(xp.sum(targets * log_p)) / batch
    return loss, (xp.exp(log_p) - targets) / batch


def kl_divergence(p, q):
    """Kullback-Leibler divergence KL(p || q) = 1/B sum_b sum_k p log(p / q), with 0 log 0 = 0.

    p, q : (B, K) distributions (rows sum to 1). Gradient with respect to q: -p / q / B.
    KL(p || q) = CE(p, q) - H(p): minimising cross-entropy over q minimises KL.
    """
    xp = check_float_array(p, "p", ndim=2)
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
