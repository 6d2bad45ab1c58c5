"""Loss and softmax widgets: cross-entropy vs MSE (lecture 5), the softmax explorer (lecture 6)."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from course import activations, losses
from course.widgets.controls import (SLIDER_LAYOUT, SLIDER_STYLE, grid, live_widget_box,
                                     positive_int, real_number)
from course.widgets.plots import legend_below, new_figure, show_figure

#: fixed colour range of the softmax Jacobian heat map: |dy_i/dz_j| <= 1/4 at T = 1
JACOBIAN_COLOR_LIMIT = 0.25


# ----------------------------------------------------------------------------
# cross-entropy vs MSE after a sigmoid (lecture 5)
# ----------------------------------------------------------------------------
def ce_vs_mse_data(v, z=None):
    """Binary CE and MSE after a sigmoid, and their gradients wrt the logit.

    For each logit z on the grid, the prediction is ``y_hat = sigmoid(z)`` and
    the label is ``v``. Each point is a batch of one example, so the library's
    mean losses are the per-example losses:

    * CE: ``course.losses.binary_cross_entropy_with_logits(z, v)`` gives the
      loss and ``dL/dz = sigmoid(z) - v``;
    * MSE: ``course.losses.mse(y_hat, v)`` gives the loss and ``dL/dy_hat``;
      the chain rule through the sigmoid gives ``dL/dz = dL/dy_hat * sigmoid'(z)``,
      which vanishes when the sigmoid saturates, even if the prediction is wrong.

    Parameters
    ----------
    v : {0, 1}
        The true label.
    z : array_like, shape (G,), optional
        Grid of logits (default 321 points in [-8, 8]).

    Returns
    -------
    dict of ndarray, each shape (G,)
        ``z``, ``y_hat``, ``ce``, ``mse``, ``ce_grad``, ``mse_grad``
        (gradients with respect to the logit z).
    """
    label = real_number(v, "v")
    if label not in (0.0, 1.0):
        raise ValueError(f"v must be 0 or 1, got {v!r}")
    z = grid(z, np.linspace(-8.0, 8.0, 321))
    y_hat = activations.sigmoid(z)
    target = np.array([label])
    ce = np.empty_like(z)
    ce_grad = np.empty_like(z)
    mse = np.empty_like(z)
    mse_grad = np.empty_like(z)
    for i in range(z.size):
        ce[i], g = losses.binary_cross_entropy_with_logits(z[i : i + 1], target)
        ce_grad[i] = g[0]
        mse[i], g = losses.mse(y_hat[i : i + 1], target)
        mse_grad[i] = g[0] * activations.sigmoid_derivative(z[i : i + 1])[0]
    return {"z": z, "y_hat": y_hat, "ce": ce, "mse": mse, "ce_grad": ce_grad,
            "mse_grad": mse_grad}


def ce_vs_mse_widget():
    """Toggle the label v: losses (left) and their gradients wrt the logit (right)."""
    toggle = W.ToggleButtons(options=[("v = 1", 1), ("v = 0", 0)], value=1,
                             description="true label", style=SLIDER_STYLE)
    fig, (ax_l, ax_g) = new_figure(1, 2, figsize=(9.0, 3.8))
    d = ce_vs_mse_data(toggle.value)
    (ce_l,) = ax_l.plot(d["z"], d["ce"], color="tab:blue", lw=2, label="cross-entropy")
    (mse_l,) = ax_l.plot(d["z"], d["mse"], color="tab:orange", lw=2, label="MSE")
    ax_l.set_ylim(-0.2, 8.5)
    ax_l.set_xlabel(r"logit z  ($\hat y = \sigma(z)$)")
    ax_l.set_title("loss")
    (ce_g,) = ax_g.plot(d["z"], d["ce_grad"], color="tab:blue", lw=2, label="dCE/dz")
    (mse_g,) = ax_g.plot(d["z"], d["mse_grad"], color="tab:orange", lw=2, label="dMSE/dz")
    ax_g.axhline(0.0, color="0.5", lw=0.8)
    ax_g.set_ylim(-1.1, 1.1)
    ax_g.set_xlabel("logit z")
    ax_g.set_title("gradient with respect to the logit")
    for ax in (ax_l, ax_g):
        ax.grid(alpha=0.3)
        legend_below(ax)
    out = W.Output()

    def refresh(change=None):
        d = ce_vs_mse_data(toggle.value)
        ce_l.set_ydata(d["ce"])
        mse_l.set_ydata(d["mse"])
        ce_g.set_ydata(d["ce_grad"])
        mse_g.set_ydata(d["mse_grad"])
        wrong = "z << 0" if toggle.value == 1 else "z >> 0"
        fig.suptitle(f"v = {toggle.value}: confidently wrong means {wrong}; "
                     "there the MSE gradient vanishes, the CE gradient does not")
        show_figure(out, fig)

    return live_widget_box([toggle], out, fig, refresh)


# ----------------------------------------------------------------------------
# softmax explorer (lecture 6)
# ----------------------------------------------------------------------------
def softmax_explorer_data(logits, temperature=1.0):
    """Softmax probabilities of ``logits / temperature`` and their Jacobian.

    Parameters
    ----------
    logits : array_like, shape (K,)
        Scores z, K >= 2.
    temperature : float
        T > 0; y = softmax(z / T). Small T sharpens, large T flattens.

    Returns
    -------
    dict
        ``logits`` (K,); ``probabilities`` y (K,);
        ``jacobian`` (K, K): dy/dz = J(y) / T with
        J(y)[i, j] = y_i (delta_ij - y_j) from ``course.activations.softmax_jacobian``.
    """
    T = real_number(temperature, "temperature")
    if T <= 0:
        raise ValueError(f"temperature must be > 0, got {T}")
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 1 or z.size < 2:
        raise ValueError(f"logits must have shape (K,) with K >= 2, got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("logits contains NaN or infinite values")
    y = activations.softmax(z / T)
    return {"logits": z, "probabilities": y,
            "jacobian": activations.softmax_jacobian(y) / T}


def softmax_explorer_widget(num_logits=4):
    """One slider per logit and a temperature: probability bars and Jacobian heat map.

    Both panels keep fixed scales (probabilities in [0, 1], Jacobian colours in
    [-1/4, 1/4], the largest magnitude at T = 1), so moving the temperature visibly
    sharpens or flattens them; values beyond the colour range show the end colour and
    are written in the cells.
    """
    K = positive_int(num_logits, "num_logits")
    if not 2 <= K <= 8:
        raise ValueError(f"num_logits must be between 2 and 8, got {K}")
    start = np.linspace(1.0, -1.0, K)
    sliders = [W.FloatSlider(value=round(float(s), 2), min=-5.0, max=5.0, step=0.1,
                             description=f"z{k + 1}", continuous_update=False,
                             layout=SLIDER_LAYOUT, style=SLIDER_STYLE)
               for k, s in enumerate(start)]
    temp = W.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05,
                            description="temperature T", continuous_update=False,
                            layout=SLIDER_LAYOUT, style=SLIDER_STYLE)
    fig, (ax_p, ax_j) = new_figure(1, 2, figsize=(9.0, 3.6))
    d = softmax_explorer_data([s.value for s in sliders], temp.value)
    names = [f"y{k + 1}" for k in range(K)]
    bars = ax_p.bar(names, d["probabilities"], color="tab:blue")
    bar_text = [ax_p.text(k, 0.0, "", ha="center", va="bottom", fontsize=9) for k in range(K)]
    ax_p.set_ylim(0.0, 1.12)
    ax_p.axhline(1.0, color="0.6", lw=0.8, ls=":")
    ax_p.set_title("probabilities y = softmax(z / T)")
    limit = JACOBIAN_COLOR_LIMIT
    image = ax_j.imshow(d["jacobian"], cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(image, ax=ax_j, shrink=0.85, extend="both", ticks=[-limit, 0.0, limit])
    ax_j.set_xticks(range(K), [f"z{k + 1}" for k in range(K)])
    ax_j.set_yticks(range(K), names)
    ax_j.set_title(r"Jacobian $\partial y_i / \partial z_j$ (fixed colour scale)")
    cell_text = [[ax_j.text(j, i, "", ha="center", va="center", fontsize=8)
                  for j in range(K)] for i in range(K)]
    out = W.Output()

    def refresh(change=None):
        d = softmax_explorer_data([s.value for s in sliders], temp.value)
        for k, (bar, p) in enumerate(zip(bars, d["probabilities"])):
            bar.set_height(p)
            bar_text[k].set_position((k, p + 0.01))
            bar_text[k].set_text(f"{p:.2f}")
        J = d["jacobian"]
        image.set_data(J)
        for i in range(K):
            for j in range(K):
                cell_text[i][j].set_text(f"{J[i, j]:.2f}".replace("-0.00", "0.00"))
                cell_text[i][j].set_color("white" if abs(J[i, j]) > 0.6 * limit else "black")
        fig.suptitle(f"T = {temp.value:.2f}: each row of the Jacobian sums to 0")
        show_figure(out, fig)

    return live_widget_box([*sliders, temp], out, fig, refresh)
