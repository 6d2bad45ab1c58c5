"""Layers: the affine (linear) layer, activation layers and the softmax layer.

Functional core, CS231n style: ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> grads``, every gradient the shape of what it differentiates.
Thin classes on top keep parameters and gradients together.

Conventions (batch-first): a batch X has shape (B, n_in), one example per row;
W has shape (n_out, n_in) and b shape (n_out,), so z = x @ W.T + b, i.e. z_b = W x_b + b for each
example. Deck 001 writes Z = W^T A with W of shape (n_in, n_out) and examples as columns: its W is
our W.T and its Z our z.T.

Deck 000's *augmented* form treats the bias as the weight of a dummy input x_0 = 1:
W_tilde = [b | W] of shape (n_out, n_in + 1) and z = [1, x] W_tilde^T.
"""
from __future__ import annotations

import math

import numpy as np

from .activations import get_activation, softmax, softmax_vjp
from .backend import array_namespace, asarray, get_namespace
from .validation import check_choice, check_float_array, check_shape


def linear_forward(x, W, b):
    """Affine layer z = x @ W.T + b.

    Parameters
    ----------
    x : (B, n_in) inputs, one example per row.
    W : (n_out, n_in) weights.
    b : (n_out,) biases.

    Returns
    -------
    z : (B, n_out)
    cache : (x, W) for :func:`linear_backward`.
    """
    check_float_array(x, "x", ndim=2)
    check_float_array(W, "W", ndim=2)
    check_float_array(b, "b", ndim=1)
    n_out, n_in = W.shape
    if x.shape[1] != n_in:
        raise ValueError(
            f"x must have shape (B, {n_in}) to match W of shape {tuple(W.shape)} (n_out, n_in), "
            f"got {tuple(x.shape)}"
        )
    check_shape(b, "b", (n_out,), "(n_out,)")
    return affine(x, W, b), (x, W)


def affine(x, W, b):
    """z = x @ W.T + b without input validation: the inner loop of an already-validated network."""
    xp = array_namespace(x)
    z = xp.matmul(x, xp.matrix_transpose(W))
    z += b  # in place: saves allocating a second (B, n_out) array
    return z


def affine_backward(dz, x, W, input_grad: bool = True):
    """(dx, dW, db) of z = x @ W.T + b without validation; dx is None when ``input_grad`` is False
    (the first layer of a network needs no gradient with respect to its input X)."""
    xp = array_namespace(dz)
    dx = xp.matmul(dz, W) if input_grad else None
    dW = xp.matmul(xp.matrix_transpose(dz), x)
    db = xp.sum(dz, axis=0)
    return dx, dW, db


def linear_backward(dz, cache):
    """Backward pass of the affine layer.

    Parameters
    ----------
    dz : (B, n_out) upstream gradient dL/dz (already including the 1/B of a mean loss).
    cache : (x, W) from :func:`linear_forward`.

    Returns
    -------
    dx : (B, n_in) = dz @ W
    dW : (n_out, n_in) = dz.T @ x   (eq. 23a, summed over the batch)
    db : (n_out,) = sum over the batch of dz   (eq. 23b)
    """
    x, W = cache
    check_float_array(dz, "dz", ndim=2)
    check_shape(dz, "dz", (x.shape[0], W.shape[0]), "(B, n_out)")
    return affine_backward(dz, x, W)


def augment(x):
    """Prepend the dummy input x_0 = 1: (B, n_in) -> (B, n_in + 1)."""
    xp = check_float_array(x, "x", ndim=2)
    ones = xp.ones((x.shape[0], 1), dtype=x.dtype)
    return xp.concat([ones, x], axis=1)


def augment_weights(W, b):
    """W_tilde = [b | W]: the bias becomes the first column, (n_out, n_in + 1)."""
    xp = check_float_array(W, "W", ndim=2)
    check_float_array(b, "b", ndim=1)
    check_shape(b, "b", (W.shape[0],), "(n_out,)")
    return xp.concat([xp.expand_dims(b, axis=1), W], axis=1)


def split_augmented(W_tilde):
    """Inverse of :func:`augment_weights`: W_tilde (n_out, n_in + 1) -> (W, b)."""
    check_float_array(W_tilde, "W_tilde", ndim=2)
    if W_tilde.shape[1] < 2:
        raise ValueError(f"W_tilde must have at least 2 columns [b | W], got shape {tuple(W_tilde.shape)}")
    return W_tilde[:, 1:], W_tilde[:, 0]


def augmented_linear_forward(x, W_tilde):
    """Affine layer in the augmented form z = [1, x] @ W_tilde.T; equals linear_forward(x, W, b).

    x : (B, n_in); W_tilde : (n_out, n_in + 1). Returns z (B, n_out) and the cache
    (x_augmented, W_tilde); :func:`linear_backward` on it gives dW_tilde = [db | dW].
    """
    x_aug = augment(x)
    check_float_array(W_tilde, "W_tilde", ndim=2)
    if W_tilde.shape[1] != x_aug.shape[1]:
        raise ValueError(
            f"W_tilde must have shape (n_out, {x_aug.shape[1]}) = (n_out, n_in + 1) for x of shape "
            f"{tuple(x.shape)}, got {tuple(W_tilde.shape)}"
        )
    xp = array_namespace(x)
    return xp.matmul(x_aug, xp.matrix_transpose(W_tilde)), (x_aug, W_tilde)


def activation_forward(z, activation):
    """a = g(z) elementwise. ``activation`` is a name or an object from ``get_activation``."""
    act = get_activation(activation) if isinstance(activation, str) else activation
    return act.forward(z), (z, act)


def activation_backward(da, cache):
    """dz = da * g'(z) (Hadamard product, eq. 23c)."""
    z, act = cache
    check_float_array(da, "da")
    check_shape(da, "da", tuple(z.shape), "(same as z)")
    return da * act.derivative(z)


def softmax_forward(z):
    """Softmax layer over the last axis: (B, K) -> (B, K); cache holds the output."""
    y = softmax(z)
    return y, y


def softmax_backward(dy, cache):
    """dz = J^T dy per example, without forming the Jacobian."""
    return softmax_vjp(cache, dy)


INITS = ("he", "lecun", "glorot")


def init_scale(init: str, n_in: int, n_out: int) -> float:
    """Standard deviation of the initial weights of a layer with ``n_in`` inputs and ``n_out`` outputs.

    ``"he"`` (He et al. 2015): sqrt(2 / n_in), for ReLU-like activations.
    ``"lecun"`` (LeCun et al. 1998): sqrt(1 / n_in), for sigmoid, tanh and SELU.
    ``"glorot"`` (Glorot and Bengio 2010, also called Xavier): sqrt(2 / (n_in + n_out)), which
    balances the variance of the forward signal and of the backward gradient.
    """
    if init == "xavier":
        raise ValueError(
            "init 'xavier' is ambiguous: use 'glorot' for N(0, 2 / (n_in + n_out)) (Glorot and Bengio's "
            "normal initialisation) or 'lecun' for N(0, 1 / n_in) (what 'xavier' used to mean here)"
        )
    check_choice(init, "init", INITS)
    variances = {"he": 2.0 / n_in, "lecun": 1.0 / n_in, "glorot": 2.0 / (n_in + n_out)}
    return math.sqrt(variances[init])


def init_weights(n_in: int, n_out: int, rng: np.random.Generator, init: str = "he", xp=None, dtype="float64"):
    """Random weights W (n_out, n_in) drawn from N(0, sigma^2) and zero biases b (n_out,).

    ``init`` chooses sigma (see :func:`init_scale`): ``"he"`` N(0, 2 / n_in), ``"lecun"``
    N(0, 1 / n_in), ``"glorot"`` N(0, 2 / (n_in + n_out)). W is rng.standard_normal((n_out, n_in))
    times sigma, drawn in float64 and then cast to ``dtype``.
    """
    for name, value in (("n_in", n_in), ("n_out", n_out)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    scale = init_scale(init, int(n_in), int(n_out))
    W = rng.standard_normal((int(n_out), int(n_in))) * scale
    xp = get_namespace() if xp is None else xp
    return asarray(W.astype(dtype), xp), xp.zeros(int(n_out), dtype=getattr(xp, dtype))


class Linear:
    """Affine layer with parameters W (n_out, n_in), b (n_out,) and their gradients dW, db."""

    def __init__(self, n_in, n_out, rng=None, init="he", xp=None, dtype="float64"):
        rng = np.random.default_rng(0) if rng is None else rng
        self.W, self.b = init_weights(n_in, n_out, rng, init, xp, dtype)
        self.dW = None
        self.db = None
        self._cache = None

    def forward(self, x):
        """(B, n_in) -> (B, n_out)."""
        z, self._cache = linear_forward(x, self.W, self.b)
        return z

    def backward(self, dz):
        """Stores dW, db and returns dx (B, n_in)."""
        if self._cache is None:
            raise ValueError("call forward before backward")
        dx, self.dW, self.db = linear_backward(dz, self._cache)
        return dx


class Activation:
    """Elementwise activation layer, e.g. ``Activation("relu", subgradient_at_zero=0.5)``."""

    def __init__(self, name, **kwargs):
        self.activation = get_activation(name, **kwargs)
        self._cache = None

    def forward(self, z):
        a, self._cache = activation_forward(z, self.activation)
        return a

    def backward(self, da):
        if self._cache is None:
            raise ValueError("call forward before backward")
        return activation_backward(da, self._cache)


class Softmax:
    """Softmax as a vector-activation layer over the last axis."""

    def __init__(self):
        self._cache = None

    def forward(self, z):
        y, self._cache = softmax_forward(z)
        return y

    def backward(self, dy):
        if self._cache is None:
            raise ValueError("call forward before backward")
        return softmax_backward(dy, self._cache)
