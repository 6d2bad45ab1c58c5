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
* :meth:`MLP.backward_per_example` is deck 000's algorithm, written separately in column-vector
  form: for each example x (a column), a forward pass z^[l] = W^[l] a^[l-1] + b^[l], then
  delta^[l-1] = g'(z^[l-1]) * (W^[l]^T delta^[l]), dW^[l] = delta^[l] a^[l-1]^T, db^[l] = delta^[l];
  the per-example gradients are then averaged. It shares no backprop code with
  :meth:`MLP.backward` (only the activations and the output loss), is B times slower, and exists
  to check the vectorized form.

Inputs X and targets y may be arrays or array-likes (lists, ``np.matrix``, pandas objects), see
``course.validation``; an empty batch (B = 0) is refused with a ``ValueError``.
"""
from __future__ import annotations

import numpy as np

from .activations import get_activation, sigmoid, softmax
from .backend import array_namespace, get_namespace
from .layers import affine, affine_backward, init_weights
from .losses import binary_cross_entropy_with_logits, class_targets, mse, softmax_cross_entropy
from .validation import all_finite, as_array, check_batch, check_binary_targets, check_choice, check_float_array

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
        n^[L] (outputs). For ``output="sigmoid"`` the last size must be 1, for ``"softmax"`` at
        least 2 (a softmax over one unit is always 1: nothing would train).
    hidden_activation : name of the hidden activation (see ``course.activations``).
    output : ``"softmax"``, ``"sigmoid"`` or ``"identity"``; fixes the loss (module docstring).
    rng : numpy.random.Generator for the initial weights (default: seed 0).
    dtype : ``"float64"`` (default, grading precision) or ``"float32"`` (speed).
    backend : array namespace name (``"numpy"``, ``"cupy"``, ``"array_api_strict"``);
        default from ``COURSE_BACKEND``.
    activation_kwargs : keyword arguments of the hidden activation, e.g.
        ``{"subgradient_at_zero": 0.5}`` for ReLU (checked here, not at the first backward).
    init : weight initialisation, ``"he"``, ``"lecun"`` or ``"glorot"`` (see
        ``course.layers.init_scale``). Default: ``"he"`` for ReLU, leaky ReLU, ELU and SELU, ``"lecun"``
        for every other activation (sigmoid, tanh, ...). Biases start at 0.

    Attributes
    ----------
    params : list of dicts ``{"W": (n_out, n_in), "b": (n_out,)}``, one per layer.
    """

    def __init__(self, layer_sizes, hidden_activation="relu", output="softmax", rng=None,
                 dtype="float64", backend=None, activation_kwargs=None, init=None):
        sizes = list(layer_sizes) if isinstance(layer_sizes, (list, tuple, range, np.ndarray)) else []
        if len(sizes) < 2 or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)) and n >= 1 for n in sizes
        ):
            raise ValueError(
                f"layer_sizes must list at least 2 positive integers (inputs, ..., outputs), got {layer_sizes!r}"
            )
        check_choice(output, "output", OUTPUTS)
        check_choice(dtype, "dtype", ("float32", "float64"))
        if output == "sigmoid" and sizes[-1] != 1:
            raise ValueError(f"output='sigmoid' needs 1 output unit, got layer_sizes[-1] = {sizes[-1]}")
        if output == "softmax" and sizes[-1] < 2:
            raise ValueError(
                f"output='softmax' needs at least 2 output units, got layer_sizes[-1] = {sizes[-1]}: "
                "a softmax over one unit is always 1, so nothing trains; for two classes use "
                "output='sigmoid' with 1 unit"
            )
        self.layer_sizes = [int(n) for n in sizes]
        self.output = output
        self.loss_name = OUTPUTS[output]
        self.dtype = dtype
        self.xp = get_namespace(backend)
        self.hidden = get_activation(hidden_activation, **(activation_kwargs or {}))
        rng = np.random.default_rng(0) if rng is None else rng
        if init is None:
            init = "he" if hidden_activation in ("relu", "leaky_relu", "elu", "selu") else "lecun"
        self.init = init
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
        """X as a float array of the model's namespace and dtype, shape (B, n^[0]) with B >= 1."""
        X = as_array(X, "X", self.xp)
        xp = check_float_array(X, "X", ndim=2)
        if X.shape[1] != self.layer_sizes[0]:
            raise ValueError(
                f"X must have shape (B, {self.layer_sizes[0]}) (one example per row), got {tuple(X.shape)}"
            )
        if X.shape[0] == 0:
            raise ValueError(f"X must hold at least one example, got shape {tuple(X.shape)}")
        if X.dtype != getattr(xp, self.dtype):
            X = xp.astype(X, getattr(xp, self.dtype))
        return X

    def _check_output_finite(self, z_out):
        """Raise :class:`DivergedError` when the output logits hold NaN or infinite values."""
        if not all_finite(z_out):
            raise DivergedError(
                "the network output z^[L] contains NaN or infinite values: the weights have diverged "
                "(lower the learning rate lr) or X holds huge values (scale it)"
            )

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
        self._check_output_finite(z)
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
        """Loss value and dL/dz^[L] (B, n^[L]) for the output/loss pair; y is already an array."""
        check_batch(z_out, "X", y, "y")
        xp = array_namespace(z_out)
        if self.output == "softmax":
            return softmax_cross_entropy(z_out, y)
        if self.output == "sigmoid":
            if y.ndim != 1:
                raise ValueError(f"y must have shape (B,) with 0/1 labels for a sigmoid output, got {tuple(y.shape)}")
            loss, dz = binary_cross_entropy_with_logits(z_out[:, 0], y)
            return loss, xp.expand_dims(dz, axis=1)
        if y.ndim != 2:
            raise ValueError(f"y must have shape (B, {self.layer_sizes[-1]}) for an identity output, got {tuple(y.shape)}")
        return mse(z_out, y)

    def loss(self, X, y) -> float:
        """Mean loss over the batch: X (B, n^[0]), y the targets of the output (see ``backward``)."""
        z_out, _ = self.forward_with_cache(X)
        return self._loss_and_output_grad(z_out, as_array(y, "y", self.xp))[0]

    # ------------------------------------------------------------------ backward
    def backward(self, X, y):
        """Vectorized backprop over the whole batch (eq. 23a-d).

        Parameters
        ----------
        X : (B, n^[0]) inputs, B >= 1.
        y : targets: (B,) integer labels or (B, K) one-hot / soft-label rows for softmax; (B,) 0/1
            labels for sigmoid; (B, n^[L]) values for identity.

        Returns
        -------
        ``(loss, grads)`` where grads mirrors ``params``:
        ``[{"W": dL/dW^[l] (n_out, n_in), "b": dL/db^[l] (n_out,)}, ...]``, for the mean loss.
        """
        z_out, caches = self.forward_with_cache(X)
        loss, dz = self._loss_and_output_grad(z_out, as_array(y, "y", self.xp))  # eq. 23d: (y_hat - Y) / B
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
        """Backprop one example at a time in column-vector form, then average (deck 000's algorithm).

        For each example b, with x = X[b] as a column (n^[0], 1):

        * forward: a^[0] = x, z^[l] = W^[l] a^[l-1] + b^[l], a^[l] = g(z^[l]) (columns);
        * output error: delta^[L] = dL_b/dz^[L], the gradient of example b's own loss L_b;
        * backward: dW^[l] = delta^[l] a^[l-1]^T (an outer product), db^[l] = delta^[l],
          delta^[l-1] = g'(z^[l-1]) * (W^[l]^T delta^[l]).

        The loss and the gradients are the means of the per-example ones. This code shares no
        backprop code with :meth:`backward`; the two agree to rounding (1e-12 in float64), and
        this one is B times slower. Same arguments and result as :meth:`backward`.
        """
        X = self._check_inputs(X)
        y = as_array(y, "y", self.xp)
        check_batch(X, "X", y, "y")
        xp = array_namespace(X)
        batch = X.shape[0]
        total_loss = 0.0
        sums = [{"W": xp.zeros_like(p["W"]), "b": xp.zeros_like(p["b"])} for p in self.params]
        for b in range(batch):
            # forward, keeping every a^[l] and z^[l] as columns
            a = xp.reshape(X[b, :], (-1, 1))
            activations, pre_activations = [a], []
            for index, layer in enumerate(self.params):
                z = xp.matmul(layer["W"], a) + xp.reshape(layer["b"], (-1, 1))
                pre_activations.append(z)
                a = self.hidden.forward(z) if index < self.num_layers - 1 else z
                activations.append(a)
            self._check_output_finite(z)
            # output error: the loss pair on a batch of one gives dL_b/dz^[L] (no 1/B factor)
            loss_b, delta_row = self._loss_and_output_grad(xp.reshape(z, (1, -1)), y[b:b + 1, ...])
            total_loss += loss_b
            delta = xp.reshape(delta_row, (-1, 1))
            # backward, from the output layer down to the first
            for index in range(self.num_layers - 1, -1, -1):
                W = self.params[index]["W"]
                sums[index]["W"] += xp.matmul(delta, xp.matrix_transpose(activations[index]))
                sums[index]["b"] += delta[:, 0]
                if index > 0:
                    delta = self.hidden.derivative(pre_activations[index - 1]) * xp.matmul(xp.matrix_transpose(W), delta)
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
        """Fraction of correct predictions.

        y : for softmax, (B,) integer labels or (B, K) one-hot / soft-label rows (the class with the
            largest target counts as the label); for sigmoid, (B,) 0/1 labels (floats, integers or
            booleans). The same targets as :meth:`backward` accepts, checked the same way.
        """
        predicted = self.predict(X)
        xp = array_namespace(predicted)
        y = as_array(y, "y", self.xp)
        check_batch(predicted, "X", y, "y")
        if self.output == "softmax":
            targets = class_targets(y, self.layer_sizes[-1], getattr(xp, self.dtype), xp=xp)
            labels = xp.argmax(targets, axis=1)
        else:
            if y.ndim != 1:
                raise ValueError(f"y must have shape (B,) with 0/1 labels for a sigmoid output, got {tuple(y.shape)}")
            if not xp.isdtype(y.dtype, "real floating"):
                y = xp.astype(y, xp.float64)
            check_binary_targets(y, "y")
            labels = xp.astype(y, xp.int64)
        return float(xp.mean(xp.astype(predicted == labels, xp.float64)))

    def copy_params(self):
        """A deep copy of ``params`` (for checkpoints and gradient checks)."""
        xp = self.xp
        return [{key: xp.asarray(value, copy=True) for key, value in layer.items()} for layer in self.params]

    def __repr__(self) -> str:
        sizes = "-".join(str(n) for n in self.layer_sizes)
        return f"MLP({sizes}, hidden={self.hidden.name}, output={self.output}, dtype={self.dtype})"
