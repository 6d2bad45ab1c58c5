"""Activation functions and their derivatives.

Elementwise activations g act on arrays of any shape; ``*_derivative(z)`` returns g'(z) with the
shape of ``z``. Softmax is a vector activation: it acts on the last axis, so its derivative is a
Jacobian per example (:func:`softmax_jacobian`); backprop only needs the vector-Jacobian product
J^T g (:func:`softmax_vjp`), computed without forming J.

All functions are numerically stable: sigmoid never evaluates exp of a large positive number,
softmax subtracts the row maximum, log-softmax uses log-sum-exp. Logits of +-1000 give finite
values and gradients and no warnings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .validation import check_choice, check_float_array, check_real, check_same_shape

SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def _float_input(z, name="z"):
    return check_float_array(z, name, finite=False)


def identity(z):
    """g(z) = z."""
    _float_input(z)
    return z


def identity_derivative(z):
    """g'(z) = 1."""
    xp = _float_input(z)
    return xp.ones_like(z)


def step(z):
    """Heaviside step of the perceptron: 1 where z >= 0, else 0."""
    xp = _float_input(z)
    return xp.astype(z >= 0, z.dtype)


def step_derivative(z):
    """Zero everywhere it is defined: gradient descent gets no signal through a step."""
    xp = _float_input(z)
    return xp.zeros_like(z)


def sigmoid(z):
    """Logistic sigmoid 1 / (1 + exp(-z)), computed from exp(-|z|) so it never overflows."""
    xp = _float_input(z)
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(z):
    """sigma'(z) = sigma(z) (1 - sigma(z)), computed as sigma(z) sigma(-z): 1 - sigma(z) would lose
    all precision for large z, while sigma(-z) keeps it."""
    return sigmoid(z) * sigmoid(-z)


def tanh(z):
    """Hyperbolic tangent."""
    xp = _float_input(z)
    return xp.tanh(z)


def tanh_derivative(z):
    """tanh'(z) = 1 - tanh(z)^2."""
    t = tanh(z)
    return 1.0 - t * t


def relu(z):
    """ReLU(z) = max(0, z)."""
    xp = _float_input(z)
    return xp.maximum(z, 0.0)


def relu_derivative(z, subgradient_at_zero: float = 0.0):
    """ReLU'(z): 1 for z > 0, 0 for z < 0, and ``subgradient_at_zero`` (any value in [0, 1] is a
    valid subgradient) at exactly z = 0; a value outside [0, 1] raises ``ValueError``."""
    subgradient_at_zero = check_real(subgradient_at_zero, "subgradient_at_zero", low=0.0, high=1.0)
    xp = _float_input(z)
    positive = xp.astype(z > 0, z.dtype)
    if subgradient_at_zero == 0:
        return positive
    at_zero = xp.astype(z == 0, z.dtype)
    return positive + subgradient_at_zero * at_zero


def leaky_relu(z, alpha: float = 0.01):
    """Leaky ReLU: z for z > 0, alpha z otherwise."""
    xp = _float_input(z)
    return xp.where(z > 0, z, alpha * z)


def leaky_relu_derivative(z, alpha: float = 0.01):
    """1 for z > 0, alpha otherwise (alpha is also the subgradient used at 0)."""
    xp = _float_input(z)
    return xp.where(z > 0, xp.ones_like(z), xp.full_like(z, alpha))


def elu(z, alpha: float = 1.0):
    """ELU: z for z > 0, alpha (exp(z) - 1) otherwise."""
    xp = _float_input(z)
    negative_part = xp.where(z > 0, xp.zeros_like(z), z)
    return xp.where(z > 0, z, alpha * xp.expm1(negative_part))


def elu_derivative(z, alpha: float = 1.0):
    """1 for z > 0, alpha exp(z) otherwise."""
    xp = _float_input(z)
    negative_part = xp.where(z > 0, xp.zeros_like(z), z)
    return xp.where(z > 0, xp.ones_like(z), alpha * xp.exp(negative_part))


def selu(z):
    """SELU: lambda * ELU(z, alpha) with the self-normalising constants lambda, alpha."""
    return SELU_LAMBDA * elu(z, SELU_ALPHA)


def selu_derivative(z):
    """lambda for z > 0, lambda alpha exp(z) otherwise."""
    return SELU_LAMBDA * elu_derivative(z, SELU_ALPHA)


# ----------------------------------------------------------------------------- softmax
def _check_classes(z, axis):
    """A softmax needs at least one entry along ``axis`` (the classes)."""
    if z.ndim == 0 or not -z.ndim <= axis < z.ndim:
        raise ValueError(f"axis must be a valid axis of z (ndim {z.ndim}), got {axis!r}")
    if z.shape[axis] == 0:
        raise ValueError(f"z must have at least one class along axis {axis}, got shape {tuple(z.shape)}")


def softmax(z, axis: int = -1):
    """Softmax along ``axis``: y_k = exp(z_k - max z) / sum_j exp(z_j - max z).

    Subtracting the maximum changes nothing mathematically and keeps every exp <= 1.
    """
    xp = _float_input(z)
    _check_classes(z, axis)
    shifted = z - xp.max(z, axis=axis, keepdims=True)
    e = xp.exp(shifted)
    return e / xp.sum(e, axis=axis, keepdims=True)


def log_softmax(z, axis: int = -1):
    """log softmax(z) = z - max z - log sum_j exp(z_j - max z) (log-sum-exp trick)."""
    xp = _float_input(z)
    _check_classes(z, axis)
    shifted = z - xp.max(z, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def softmax_jacobian(y):
    """Jacobian of softmax given its output ``y``.

    Parameters
    ----------
    y : (K,) or (B, K) softmax probabilities.

    Returns
    -------
    J : (K, K) or (B, K, K) with J[i, j] = dy_i / dz_j = y_i (delta_ij - y_j).
    """
    xp = check_float_array(y, "y", ndim=(1, 2))
    k = y.shape[-1]
    eye = xp.eye(k, dtype=y.dtype)
    column = xp.expand_dims(y, axis=-1)  # (..., K, 1): y_i
    row = xp.expand_dims(y, axis=-2)  # (..., 1, K): y_j
    return column * (eye - row)


def softmax_vjp(y, g):
    """Vector-Jacobian product J^T g of softmax, per example, without forming J.

    Parameters
    ----------
    y : (B, K) softmax outputs.
    g : (B, K) upstream gradient dL/dy.

    Returns
    -------
    (B, K) gradient dL/dz = y * (g - sum_k g_k y_k). J is symmetric, so J^T g = J g.
    """
    xp = check_float_array(y, "y", ndim=(1, 2))
    check_float_array(g, "g", ndim=(1, 2))
    check_same_shape(g, "g", y, "y")
    return y * (g - xp.sum(g * y, axis=-1, keepdims=True))


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Activation:
    """An elementwise activation by name, with its forward and derivative."""

    name: str
    _forward: Callable = field(repr=False)
    _derivative: Callable = field(repr=False)

    def forward(self, z):
        """g(z), same shape as z."""
        return self._forward(z)

    def derivative(self, z):
        """g'(z), same shape as z."""
        return self._derivative(z)

    __call__ = forward


def _with(fn, **kwargs):
    return lambda z: fn(z, **kwargs)


def get_activation(name: str, **kwargs) -> Activation:
    """Return the activation called ``name``.

    Names: step, sigmoid, tanh, relu (kwarg ``subgradient_at_zero`` in [0, 1]), leaky_relu
    (``alpha``), elu (``alpha``), selu, identity. Every keyword argument is checked here, so a bad
    value (``subgradient_at_zero=2``, ``alpha=float("nan")``) fails now, not at the first backward.
    """
    check_choice(name, "activation", ACTIVATIONS)
    forward, derivative, allowed = ACTIVATIONS[name]
    unknown = set(kwargs) - set(allowed)
    if unknown:
        raise ValueError(
            f"activation {name!r} accepts keyword arguments {sorted(allowed)}, got {sorted(unknown)}"
        )
    kwargs = {key: check_real(value, key, **KWARG_RANGES.get(key, {})) for key, value in kwargs.items()}
    fwd_kwargs = {k: v for k, v in kwargs.items() if k != "subgradient_at_zero"}
    return Activation(name, _with(forward, **fwd_kwargs), _with(derivative, **kwargs))


# Allowed ranges of the keyword arguments (any finite number when absent).
KWARG_RANGES = {"subgradient_at_zero": {"low": 0.0, "high": 1.0}}

ACTIVATIONS = {
    "step": (step, step_derivative, ()),
    "sigmoid": (sigmoid, sigmoid_derivative, ()),
    "tanh": (tanh, tanh_derivative, ()),
    "relu": (relu, relu_derivative, ("subgradient_at_zero",)),
    "leaky_relu": (leaky_relu, leaky_relu_derivative, ("alpha",)),
    "elu": (elu, elu_derivative, ("alpha",)),
    "selu": (selu, selu_derivative, ()),
    "identity": (identity, identity_derivative, ()),
}
