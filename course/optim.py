"""Training: full-batch gradient descent, mini-batch SGD and a ``fit`` loop with history.

One update is theta <- theta - lr * dL/dtheta for every parameter. Full-batch gradient descent
uses the whole training set for each update (one update per epoch); mini-batch SGD shuffles the
data each epoch and makes one update per batch of ``batch_size`` examples.

X and y may be arrays or array-likes (see ``course.validation``); an empty training set is refused.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .backend import array_namespace
from .network import DivergedError
from .validation import as_array, check_batch, check_float_array, check_nonempty


def _check_lr(lr):
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")


def sgd_step(params, grads, lr: float) -> None:
    """In place: W <- W - lr dW and b <- b - lr db for every layer.

    params : list of dicts ``{"W": (n_out, n_in), "b": (n_out,)}`` of float arrays, updated in place.
    grads : list of dicts with the same keys and shapes (arrays or array-likes).
    """
    _check_lr(lr)
    if len(params) != len(grads):
        raise ValueError(f"grads must have one entry per layer ({len(params)}), got {len(grads)}")
    for index, (layer, grad) in enumerate(zip(params, grads)):
        if not isinstance(grad, dict) or not set(layer) <= set(grad):
            got = sorted(map(str, grad)) if isinstance(grad, dict) else type(grad).__name__
            raise ValueError(f"grads[{index}] must be a dict with keys {sorted(layer)}, got {got}")
        for key in layer:
            check_float_array(layer[key], f"params[{index}][{key!r}]", finite=False)
            step = as_array(grad[key], f"grads[{index}][{key!r}]", array_namespace(layer[key]))
            if tuple(step.shape) != tuple(layer[key].shape):
                raise ValueError(
                    f"grads[{index}][{key!r}] must have shape {tuple(layer[key].shape)}, got {tuple(step.shape)}"
                )
            layer[key] -= lr * step


def iterate_minibatches(X, y, batch_size: int, rng: np.random.Generator):
    """Yield ``(X_batch, y_batch)`` covering a random permutation of the examples once.

    The last batch is smaller when B is not a multiple of ``batch_size``.
    X : (B, ...) and y : (B, ...), B >= 1 (arrays or array-likes).
    """
    X, y = _training_data(X, y)
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    xp = array_namespace(X)
    order = xp.asarray(rng.permutation(X.shape[0]))
    size = X.shape[0]
    for start in range(0, size, batch_size):
        index = order[start:min(start + batch_size, size)]
        yield xp.take(X, index, axis=0), xp.take(y, index, axis=0)


def _training_data(X, y, xp=None, names=("X", "y")):
    """X and y as arrays with the same non-zero batch size; ``names`` are used in error messages."""
    X = as_array(X, names[0], xp)
    y = as_array(y, names[1], xp)
    check_nonempty(X, names[0])
    check_batch(X, names[0], y, names[1])
    return X, y


def _train_one_epoch(model, X, y, lr, batch_size, rng) -> float:
    """One epoch: a single full-batch update, or one update per shuffled mini-batch.
    Returns the mean training loss seen during the epoch."""
    if batch_size is None:
        loss, grads = model.backward(X, y)
        sgd_step(model.params, grads, lr)
        return loss
    total, count = 0.0, 0
    for X_batch, y_batch in iterate_minibatches(X, y, batch_size, rng):
        loss, grads = model.backward(X_batch, y_batch)
        sgd_step(model.params, grads, lr)
        total += loss * X_batch.shape[0]
        count += X_batch.shape[0]
    return total / count


@dataclass
class History:
    """Per-epoch record of training: mean training loss, training and validation accuracy."""

    epochs: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)


def fit(model, X, y, *, epochs: int, lr: float, batch_size=None, rng=None, X_val=None, y_val=None,
        progress: bool = True, callback=None) -> History:
    """Train ``model`` (a :class:`course.network.MLP`) and return its :class:`History`.

    Parameters
    ----------
    X : (B, n_in) training inputs; y : training targets (see ``MLP.backward``).
    epochs : number of passes over the training set.
    lr : learning rate.
    batch_size : None for full-batch gradient descent, else the mini-batch size for SGD.
    rng : numpy.random.Generator for shuffling (default: seed 0).
    X_val, y_val : optional validation set, scored after each epoch.
    progress : show a tqdm progress bar over epochs.
    callback : ``callback(epoch, history)`` after each epoch (live plots); return True to stop.
    """
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    _check_lr(lr)
    X, y = _training_data(X, y, model.xp)
    if (X_val is None) != (y_val is None):
        raise ValueError("X_val and y_val must be given together")
    if X_val is not None:
        X_val, y_val = _training_data(X_val, y_val, model.xp, names=("X_val", "y_val"))
    rng = np.random.default_rng(0) if rng is None else rng
    history = History()
    epoch_range = range(1, epochs + 1)
    if progress:
        from tqdm.auto import tqdm

        epoch_range = tqdm(epoch_range, desc="epochs", leave=False)
    for epoch in epoch_range:
        try:
            epoch_loss = _train_one_epoch(model, X, y, lr, batch_size, rng)
            accuracy = model.accuracy(X, y) if model.output != "identity" else float("nan")
            val_accuracy = model.accuracy(X_val, y_val) if X_val is not None else None
        except DivergedError as err:
            raise DivergedError(f"training diverged at epoch {epoch}: lower lr (now {lr})") from err
        history.epochs.append(epoch)
        history.loss.append(epoch_loss)
        history.accuracy.append(accuracy)
        if val_accuracy is not None:
            history.val_accuracy.append(val_accuracy)
        if progress:
            epoch_range.set_postfix(loss=f"{epoch_loss:.4f}")
        if callback is not None and callback(epoch, history):
            break
    return history
