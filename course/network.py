"""The multilayer perceptron (fully connected feedforward network) and its two backprops.

Layer l computes z^[l] = a^[l-1] @ W^[l].T + b^[l] and a^[l] = g(z^[l]), with a^[0] = X.
The output layer and the loss come in matched pairs whose gradient with respect to the output
logits z^[L] is simple (eq. 21d / 23d):

=========  ===========================  ==================================
output     loss                         dL/dz^[L]  (mean over the batch)
=========  ===========================  ==================================
softmax    softmax cross-entropy        (y_hat - Y) / B
sigmoid    binary cross-entropy         (y_hat - y) / B
identity   mean squared error           2 (y_hat - y) / B
=========  ===========================  ==================================

Two backprops compute the same gradients:

* :meth:`MLP.backward` is the vectorized batch form (deck 001, eq. 23a-d, written batch-first):
  dW^[l] = dZ^[l].T @ A^[l-1], db^[l] = sum_b dZ^[l], dZ^[l-1] = g'(Z^[l-1]) * (dZ^[l] @ W^[l]).
* :meth:`MLP.backward_per_example` runs backprop on one example at a time and averages the
  gradients (deck 000's algorithm). It is slow and exists to check the vectorized form.
"""
from __future__ import annotations

import numpy as np

from .activations import get_activation, sigmoid, softmax
from .backend import array_namespace, get_namespace
from .layers import affine, affine_backward, init_weights
from .losses import binary_cross_entropy_with_logits, mse, softmax_cross_entropy
from .validation import all_finite, check_batch, check_choice, check_float_array

OUTPUTS = {
    "softmax": "softmax_cross_entropy",
    "sigmoid": "binary_cross_entropy",
    "identity": "mse",
}


class DivergedError(ValueError):
    """The network's output is NaN or infinite: training diverged (or the inputs are huge)."""


class MLP:
    """A fully connected feedforward network.

    Parameters
    ----------
    layer_sizes : sequence of int, e.g. ``[64, 32, 16, 10]`` = n^[0] (inputs), hidden widths,
        n^[L] (outputs). For ``output="sigmoid"`` the last size must be 1.
    hidden_activation : name of the hidden activation (see ``course.activations``).
    output : ``"softmax"``, ``"sigmoid"`` or ``"identity"``; fixes the loss (module docstring).
    rng : numpy.random.Generator for the initial weights (default: seed 0).
    dtype : ``"float64"`` (default, grading precision) or ``"float32"`` (speed).
    backend : array namespace name (``"numpy"``, ``"cupy"``, ``"array_api_strict"``);
        default from ``COURSE_BACKEND``.
    activation_kwargs : keyword arguments of the hidden activation, e.g.
        ``{"subgradient_at_zero": 0.5}`` for ReLU.

    Attributes
    ----------
    params : list of dicts ``{"W": (n_out, n_in), "b": (n_out,)}``, one per layer.
    """

    def __init__(self, layer_sizes, hidden_activation="relu", output="softmax", rng=None,
                 dtype="float64", backend=None, activation_kwargs=None):
        sizes = list(layer_sizes)
        if len(sizes) < 2 or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in sizes):
            raise ValueError(
                f"layer_sizes must list at least 2 positive integers (inputs, ..., outputs), got {layer_sizes!r}"
            )
        check_choice(output, "output", OUTPUTS)
        check_choice(dtype, "dtype", ("float32", "float64"))
        if output == "sigmoid" and sizes[-1] != 1:
            raise ValueError(f"output='sigmoid' needs 1 output unit, got layer_sizes[-1] = {sizes[-1]}")
        self.layer_sizes = [int(n) for n in sizes]
        self.output = output
        self.loss_name = OUTPUTS[output]
        self.dtype = dtype
        self.xp = get_namespace(backend)
        self.hidden = get_activation(hidden_activation, **(activation_kwargs or {}))
        rng = np.random.default_rng(0) if rng is None else rng
        init = "he" if hidden_activation in ("relu", "leaky_relu", "elu", "selu") else "xavier"
        self.params = []
        for n_in, n_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            W, b = init_weights(n_in, n_out, rng, init, self.xp, dtype)
            self.params.append({"W": W, "b": b})

    # ------------------------------------------------------------------ sizes
    @property
    def num_layers(self) -> int:
        """L, the number of weight layers (hidden layers + output layer)."""
        return len(self.params)

    def parameter_counts(self) -> list[int]:
        """Learnable parameters per layer, (n_in + 1) n_out: (N+1)K, (K+1)J, J+1 in deck 000."""
        return [(n_in + 1) * n_out for n_in, n_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:])]

    def num_parameters(self) -> int:
        """Total number of learnable parameters (weights and biases)."""
        return sum(self.parameter_counts())

    # ------------------------------------------------------------------ forward
    def _check_inputs(self, X):
        xp = check_float_array(X, "X", ndim=2)
        if X.shape[1] != self.layer_sizes[0]:
            raise ValueError(
                f"X must have shape (B, {self.layer_sizes[0]}) (one example per row), got {tuple(X.shape)}"
            )
        if X.dtype != getattr(xp, self.dtype):
            X = xp.astype(X, getattr(xp, self.dtype))
        return X

    def forward_with_cache(self, X):
        """Forward pass keeping what backprop needs.

        Returns
        -------
        z_out : (B, n^[L]) output logits z^[L].
        caches : per layer ``((a_prev, W), z)``; z is None for the output layer.
        """
        a = self._check_inputs(X)  # X is validated once; the layers below trust their inputs
        caches = []
        for index, layer in enumerate(self.params):
            z = affine(a, layer["W"], layer["b"])
            if index < self.num_layers - 1:
                caches.append(((a, layer["W"]), z))
                a = self.hidden.forward(z)
            else:
                caches.append(((a, layer["W"]), None))
        if not all_finite(z):
            raise DivergedError(
                "the network output z^[L] contains NaN or infinite values: the weights have diverged "
                "(lower the learning rate lr) or X holds huge values (scale it)"
            )
        return z, caches

    def output_from_logits(self, z_out):
        """y_hat from the output logits: softmax (B, K), sigmoid (B,), identity (B, K)."""
        if self.output == "softmax":
            return softmax(z_out)
        if self.output == "sigmoid":
            return sigmoid(z_out[:, 0])
        return z_out

    def forward(self, X):
        """Network output y_hat for a batch X of shape (B, n^[0])."""
        z_out, _ = self.forward_with_cache(X)
        return self.output_from_logits(z_out)

    # ------------------------------------------------------------------ loss
    def _loss_and_output_grad(self, z_out, y):
        """Loss value and dL/dz^[L] (B, n^[L]) for the output/loss pair."""
        check_batch(z_out, "X", y, "y")
        xp = array_namespace(z_out)
        if self.output == "softmax":
            return softmax_cross_entropy(z_out, y)
        if self.output == "sigmoid":
            if y.ndim != 1:
                raise ValueError(f"y must have shape (B,) with 0/1 labels for a sigmoid output, got {tuple(y.shape)}")
            y = y if xp.isdtype(y.dtype, "real floating") else xp.astype(y, z_out.dtype)
            loss, dz = binary_cross_entropy_with_logits(z_out[:, 0], y)
            return loss, xp.expand_dims(dz, axis=1)
        if y.ndim != 2:
            raise ValueError(f"y must have shape (B, {self.layer_sizes[-1]}) for an identity output, got {tuple(y.shape)}")
        return mse(z_out, y)

    def loss(self, X, y) -> float:
        """Mean loss over the batch."""
        z_out, _ = self.forward_with_cache(X)
        return self._loss_and_output_grad(z_out, y)[0]

    # ------------------------------------------------------------------ backward
    def backward(self, X, y):
        """Vectorized backprop over the whole batch (eq. 23a-d).

        Returns ``(loss, grads)`` where grads mirrors ``params``:
        ``[{"W": dL/dW^[l] (n_out, n_in), "b": dL/db^[l] (n_out,)}, ...]``, for the mean loss.
        """
        z_out, caches = self.forward_with_cache(X)
        loss, dz = self._loss_and_output_grad(z_out, y)  # eq. 23d: (y_hat - Y) / B
        grads = [None] * self.num_layers
        for index in range(self.num_layers - 1, -1, -1):
            (a_prev, W), _ = caches[index]
            da_prev, dW, db = affine_backward(dz, a_prev, W, input_grad=index > 0)  # eq. 23a, 23b
            grads[index] = {"W": dW, "b": db}
            if index > 0:
                z_prev = caches[index - 1][1]
                dz = da_prev * self.hidden.derivative(z_prev)  # eq. 23c
        return loss, grads

    def backward_per_example(self, X, y):
        """Backprop one example at a time, then average the gradients (deck 000's algorithm).

        Same result as :meth:`backward` up to rounding (1e-12 in float64), B times slower.
        """
        X = self._check_inputs(X)
        check_batch(X, "X", y, "y")
        batch = X.shape[0]
        total_loss = 0.0
        sums = None
        for b in range(batch):
            loss_b, grads_b = self.backward(X[b:b + 1, ...], y[b:b + 1, ...])
            total_loss += loss_b
            if sums is None:
                sums = grads_b
            else:
                for acc, g in zip(sums, grads_b):
                    acc["W"] = acc["W"] + g["W"]
                    acc["b"] = acc["b"] + g["b"]
        averaged = [{"W": g["W"] / batch, "b": g["b"] / batch} for g in sums]
        return total_loss / batch, averaged

    # ------------------------------------------------------------------ predictions
    def predict(self, X):
        """Class predictions (B,): argmax for softmax, 1 where y_hat >= 0.5 for sigmoid."""
        y_hat = self.forward(X)
        xp = array_namespace(y_hat)
        if self.output == "softmax":
            return xp.argmax(y_hat, axis=1)
        if self.output == "sigmoid":
            return xp.astype(y_hat >= 0.5, xp.int64)
        raise ValueError("predict needs a classification network (output 'softmax' or 'sigmoid')")

    def accuracy(self, X, y) -> float:
        """Fraction of correct predictions; y are labels (B,) or one-hot rows (B, K)."""
        predicted = self.predict(X)
        xp = array_namespace(predicted)
        check_batch(predicted, "X", y, "y")
        labels = y
        if y.ndim == 2:
            labels = xp.argmax(y, axis=1)
        elif not xp.isdtype(y.dtype, "integral"):
            labels = xp.astype(y, xp.int64)
        return float(xp.mean(xp.astype(predicted == labels, xp.float64)))

    def copy_params(self):
        """A deep copy of ``params`` (for checkpoints and gradient checks)."""
        xp = self.xp
        return [{key: xp.asarray(value, copy=True) for key, value in layer.items()} for layer in self.params]

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in self.layer_sizes)
        return f"MLP({sizes}, hidden={self.hidden.name}, output={self.output}, dtype={self.dtype})"
