"""The live training dashboard of lecture 9: a pure training function and its widget."""

from __future__ import annotations

import numbers

import ipywidgets as W
import numpy as np

from course import network, optim
from course.widgets.plots import new_figure, plot_history, show_figure
from course.widgets.controls import SLIDER_LAYOUT, SLIDER_STYLE, positive_int, real_number, widget_box

_FULL_BATCH = 0  # batch-size slider value meaning "full batch" (a selection value cannot be None)


def run_training(X_train, y_train, X_val, y_val, lr, batch_size, num_hiddens, epochs,
                 seed, callback=None):
    """Train a two-hidden-layer ReLU network with softmax output.

    The network is ``course.network.MLP([n_in, num_hiddens, num_hiddens, K])``
    (K = number of classes in the labels), trained by ``course.optim.fit`` with
    mean softmax cross-entropy.

    Parameters
    ----------
    X_train : ndarray, shape (B, n_in)
    y_train : ndarray of int, shape (B,)
    X_val : ndarray, shape (B_val, n_in)
    y_val : ndarray of int, shape (B_val,)
    lr : float
        Learning rate, > 0.
    batch_size : int or None
        Mini-batch size; None means full-batch gradient descent.
    num_hiddens : int
        Width of both hidden layers.
    epochs : int
    seed : int
        Seeds the initial weights and the mini-batch order.
    callback : callable, optional
        ``callback(epoch, history)`` after each epoch (live plots).

    Returns
    -------
    course.optim.History
        Per-epoch ``loss``, ``accuracy``, ``val_accuracy``.
    """
    X_train = np.asarray(X_train, dtype=np.float64)
    X_val = np.asarray(X_val, dtype=np.float64)
    y_train = np.asarray(y_train)
    y_val = np.asarray(y_val)
    if X_train.ndim != 2:
        raise ValueError(f"X_train must have shape (B, n_in), got {X_train.shape}")
    if X_val.ndim != 2 or X_val.shape[1] != X_train.shape[1]:
        raise ValueError(f"X_val must have shape (B_val, {X_train.shape[1]}), got {X_val.shape}")
    for name, labels, X in (("y_train", y_train, X_train), ("y_val", y_val, X_val)):
        if labels.shape != (X.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{name} must be integer labels of shape ({X.shape[0]},), "
                             f"got {labels.dtype} {labels.shape}")
    lr = real_number(lr, "lr")
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if batch_size is not None:
        batch_size = positive_int(batch_size, "batch_size")
    num_hiddens = positive_int(num_hiddens, "num_hiddens")
    epochs = positive_int(epochs, "epochs")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    num_classes = int(max(y_train.max(), y_val.max())) + 1
    rng = np.random.default_rng(int(seed))
    model = network.MLP([X_train.shape[1], num_hiddens, num_hiddens, num_classes],
                        hidden_activation="relu", output="softmax", rng=rng)
    return optim.fit(model, X_train, y_train, epochs=epochs, lr=lr, batch_size=batch_size,
                     rng=rng, X_val=X_val, y_val=y_val, progress=False, callback=callback)


def training_dashboard_widget(X_train, y_train, X_val, y_val):
    """Sliders for lr, batch size, hidden width and epochs; training starts on the button.

    Moving a control never trains: only the Train button does. The loss and
    accuracy curves are redrawn while training runs.
    """
    lr = W.FloatLogSlider(value=0.1, base=10, min=-3, max=0.5, step=0.25,
                          description="learning rate", continuous_update=False,
                          layout=SLIDER_LAYOUT, style=SLIDER_STYLE)
    batch = W.SelectionSlider(options=[("8", 8), ("32", 32), ("128", 128), ("512", 512),
                                       ("full batch", _FULL_BATCH)],
                              value=32, description="batch size", continuous_update=False,
                              layout=SLIDER_LAYOUT, style=SLIDER_STYLE)
    hidden = W.IntSlider(value=32, min=4, max=128, step=4, description="hidden width",
                         continuous_update=False, layout=SLIDER_LAYOUT, style=SLIDER_STYLE)
    epochs = W.IntSlider(value=15, min=1, max=60, step=1, description="epochs",
                         continuous_update=False, layout=SLIDER_LAYOUT, style=SLIDER_STYLE)
    button = W.Button(description="Train", button_style="primary", icon="play")
    status = W.Label(value="Choose the settings, then press Train.")
    fig, (ax_loss, ax_acc) = new_figure(1, 2, figsize=(9.0, 3.2))
    out = W.Output()
    empty = type("EmptyHistory", (), {"loss": [], "accuracy": [], "val_accuracy": []})()

    def draw(history, total):
        plot_history(ax_loss, ax_acc, history, epochs=total)
        show_figure(out, fig)

    def train(_button=None):
        button.disabled = True
        total = epochs.value
        every = max(1, -(-total // 6))  # about 6 live redraws: a PNG costs ~0.2 s
        status.value = "training..."

        def on_epoch(epoch, history):
            if len(history.loss) % every == 0 or len(history.loss) == total:
                draw(history, total)

        try:
            history = run_training(X_train, y_train, X_val, y_val, lr=lr.value,
                                   batch_size=None if batch.value == _FULL_BATCH else batch.value,
                                   num_hiddens=hidden.value,
                                   epochs=total, seed=0, callback=on_epoch)
            draw(history, total)
            status.value = (f"done: final loss {history.loss[-1]:.3f}, validation accuracy "
                            f"{history.val_accuracy[-1]:.3f}")
        finally:
            button.disabled = False
        return history

    button.on_click(train)
    draw(empty, epochs.value)
    box = widget_box([lr, batch, hidden, epochs, W.HBox([button, status])], out, fig,
               lambda change=None: draw(empty, epochs.value))
    box.train = train
    return box
