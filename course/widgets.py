"""Interactive lecture widgets.

Every widget has two parts:

* a pure ``*_data`` function that computes what is drawn, with the library
  (``course.activations``, ``course.losses``, ``course.graph``, ``course.optim``)
  and is tested without a browser;
* a thin ``*_widget`` wrapper: ipywidgets controls plus one matplotlib figure,
  created once; a control change updates the artists and re-displays the figure
  in an ``ipywidgets.Output``.

The returned widget (an ``ipywidgets.VBox``) carries the figure as ``.figure``
and a ``.refresh()`` method that redraws it from the current control values.
The training dashboard of lecture 8 lives in ``course.training_dashboard`` and is
re-exported here; the shared input checks and styling in ``course.widget_controls``.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from course import activations, losses
from course.plots import draw_graph, new_figure, show_figure
from course.training_dashboard import run_training, training_dashboard_widget
from course.widget_controls import (SLIDER_LAYOUT, SLIDER_STYLE, grid, live_widget_box,
                                    positive_int, real_number)

__all__ = [
    "step_vs_sigmoid_data",
    "step_vs_sigmoid_widget",
    "relu_subgradient_data",
    "relu_subgradient_widget",
    "ce_vs_mse_data",
    "ce_vs_mse_widget",
    "softmax_explorer_data",
    "softmax_explorer_widget",
    "graph_trace_data",
    "graph_example_data",
    "graph_widget",
    "run_training",
    "training_dashboard_widget",
]

# ----------------------------------------------------------------------------
# step vs sigmoid (lecture 1)
# ----------------------------------------------------------------------------
def step_vs_sigmoid_data(steepness, z=None):
    """Step function vs the sigmoid ``sigmoid(steepness * z)`` and their derivatives.

    The sigmoid with a large steepness ``a`` approaches the step function, but
    its derivative ``a * sigmoid'(a z)`` stays finite and non-zero, while the
    step function has derivative 0 everywhere it is defined: gradient descent
    through a step gets no signal at all.

    Parameters
    ----------
    steepness : float
        ``a > 0``, the slope factor of the sigmoid.
    z : array_like, shape (G,), optional
        Grid of pre-activations (default 401 points in [-5, 5]).

    Returns
    -------
    dict of ndarray, each shape (G,)
        ``z``; ``step`` = s(z); ``sigmoid`` = sigmoid(a z);
        ``step_derivative`` = 0; ``sigmoid_derivative`` = a * sigmoid'(a z)
        (chain rule, with sigmoid' = sigmoid (1 - sigmoid)).
    """
    a = real_number(steepness, "steepness")
    if a <= 0:
        raise ValueError(f"steepness must be > 0, got {a}")
    z = grid(z, np.linspace(-5.0, 5.0, 401))
    return {
        "z": z,
        "step": activations.step(z),
        "sigmoid": activations.sigmoid(a * z),
        "step_derivative": activations.step_derivative(z),
        "sigmoid_derivative": a * activations.sigmoid_derivative(a * z),
    }


def step_vs_sigmoid_widget():
    """Slider for the steepness: outputs (left) and derivatives (right)."""
    slider = W.FloatSlider(value=1.0, min=0.25, max=10.0, step=0.25,
                           description="steepness a", continuous_update=False,
                           layout=SLIDER_LAYOUT, style=SLIDER_STYLE)
    fig, (ax_out, ax_der) = new_figure(1, 2, figsize=(9.0, 3.2))
    d = step_vs_sigmoid_data(slider.value)
    ax_out.plot(d["z"], d["step"], color="0.3", lw=2, label="step s(z)")
    (sig_line,) = ax_out.plot(d["z"], d["sigmoid"], color="tab:blue", lw=2,
                              label=r"$\sigma(a z)$")
    ax_out.set_title("outputs")
    ax_out.set_xlabel("z")
    ax_out.legend(loc="upper left")
    ax_der.plot(d["z"], d["step_derivative"], color="0.3", lw=2, label="s'(z) = 0")
    (der_line,) = ax_der.plot(d["z"], d["sigmoid_derivative"], color="tab:blue", lw=2,
                              label=r"$a\,\sigma'(a z)$")
    ax_der.set_title("derivatives (what backprop multiplies by)")
    ax_der.set_xlabel("z")
    ax_der.legend(loc="upper left")
    for ax in (ax_out, ax_der):
        ax.grid(alpha=0.3)
    out = W.Output()

    def refresh(change=None):
        d = step_vs_sigmoid_data(slider.value)
        sig_line.set_ydata(d["sigmoid"])
        der_line.set_ydata(d["sigmoid_derivative"])
        peak = float(d["sigmoid_derivative"].max())
        ax_der.set_ylim(-0.05 * peak, 1.15 * peak)
        fig.suptitle(f"a = {slider.value:g}: max slope of the sigmoid = a/4 = {peak:.3g}")
        show_figure(out, fig)

    return live_widget_box([slider], out, fig, refresh)


# ----------------------------------------------------------------------------
# ReLU subgradient (lecture 4)
# ----------------------------------------------------------------------------
def relu_subgradient_data(alpha, z=None):
    """ReLU and the line ``alpha * z`` through its kink at the origin.

    Every slope ``alpha`` in [0, 1] gives a line that stays below the ReLU:
    ``alpha`` is a subgradient of ReLU at 0, and
    ``relu_derivative(z, subgradient_at_zero=alpha)`` uses it at z = 0.

    Parameters
    ----------
    alpha : float in [0, 1]
        Slope of the supporting line (ValueError outside [0, 1]).
    z : array_like, shape (G,), optional
        Grid (default 201 points in [-2, 2]).

    Returns
    -------
    dict
        ``z``, ``relu``, ``line`` = alpha z, ``derivative`` = ReLU'(z) with
        ``alpha`` at 0 (all shape (G,)); ``alpha`` (float); ``below`` (bool):
        whether the line lies under the ReLU on the whole grid.
    """
    a = real_number(alpha, "alpha")
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must be in [0, 1] (a subgradient of ReLU at 0), got {a}")
    z = grid(z, np.linspace(-2.0, 2.0, 201))
    relu = activations.relu(z)
    line = a * z
    return {
        "z": z,
        "relu": relu,
        "line": line,
        "derivative": activations.relu_derivative(z, subgradient_at_zero=a),
        "alpha": a,
        "below": bool(np.all(line <= relu + 1e-12)),
    }


def relu_subgradient_widget():
    """Slider for the slope alpha of a supporting line at the ReLU kink."""
    slider = W.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05,
                           description="subgradient α", continuous_update=False,
                           layout=SLIDER_LAYOUT, style=SLIDER_STYLE)
    fig, (ax_f, ax_d) = new_figure(1, 2, figsize=(9.0, 3.2))
    d = relu_subgradient_data(slider.value)
    ax_f.plot(d["z"], d["relu"], color="0.2", lw=2.5, label="ReLU(z)")
    (line,) = ax_f.plot(d["z"], d["line"], "--", color="tab:orange", lw=2, label="α z")
    ax_f.plot([0], [0], "o", color="tab:red")
    ax_f.set_ylim(-1.2, 2.1)
    ax_f.set_title("a line through the kink that stays below ReLU")
    ax_f.set_xlabel("z")
    ax_f.legend(loc="upper left")
    (der,) = ax_d.plot(d["z"], d["derivative"], color="tab:blue", lw=2,
                       label="ReLU'(z) used by backprop")
    (dot,) = ax_d.plot([0], [d["alpha"]], "o", color="tab:red", ms=8, label="value at z = 0")
    ax_d.set_ylim(-0.1, 1.1)
    ax_d.set_title("derivative with the chosen subgradient at 0")
    ax_d.set_xlabel("z")
    ax_d.legend(loc="center right")
    for ax in (ax_f, ax_d):
        ax.grid(alpha=0.3)
    out = W.Output()

    def refresh(change=None):
        d = relu_subgradient_data(slider.value)
        line.set_ydata(d["line"])
        der.set_ydata(d["derivative"])
        dot.set_ydata([d["alpha"]])
        verdict = "below ReLU: a valid subgradient" if d["below"] else "crosses ReLU"
        fig.suptitle(f"α = {d['alpha']:.2f}: the line is {verdict}")
        show_figure(out, fig)

    return live_widget_box([slider], out, fig, refresh)


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
    fig, (ax_l, ax_g) = new_figure(1, 2, figsize=(9.0, 3.4))
    d = ce_vs_mse_data(toggle.value)
    (ce_l,) = ax_l.plot(d["z"], d["ce"], color="tab:blue", lw=2, label="cross-entropy")
    (mse_l,) = ax_l.plot(d["z"], d["mse"], color="tab:orange", lw=2, label="MSE")
    ax_l.set_ylim(-0.2, 8.5)
    ax_l.set_xlabel(r"logit z  ($\hat y = \sigma(z)$)")
    ax_l.set_title("loss")
    ax_l.legend(loc="upper center")
    (ce_g,) = ax_g.plot(d["z"], d["ce_grad"], color="tab:blue", lw=2, label="dCE/dz")
    (mse_g,) = ax_g.plot(d["z"], d["mse_grad"], color="tab:orange", lw=2, label="dMSE/dz")
    ax_g.axhline(0.0, color="0.5", lw=0.8)
    ax_g.set_ylim(-1.1, 1.1)
    ax_g.set_xlabel("logit z")
    ax_g.set_title("gradient with respect to the logit")
    ax_g.legend(loc="upper center")
    for ax in (ax_l, ax_g):
        ax.grid(alpha=0.3)
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
    """One slider per logit and a temperature: probability bars and Jacobian heat map."""
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
    ax_p.set_title("probabilities y = softmax(z / T)")
    image = ax_j.imshow(d["jacobian"], cmap="RdBu_r", vmin=-0.25, vmax=0.25)
    fig.colorbar(image, ax=ax_j, shrink=0.85)
    ax_j.set_xticks(range(K), [f"z{k + 1}" for k in range(K)])
    ax_j.set_yticks(range(K), names)
    ax_j.set_title(r"Jacobian $\partial y_i / \partial z_j$")
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
        limit = max(float(np.abs(J).max()), 1e-3)
        image.set_data(J)
        image.set_clim(-limit, limit)
        for i in range(K):
            for j in range(K):
                cell_text[i][j].set_text(f"{J[i, j]:.2f}")
                cell_text[i][j].set_color("white" if abs(J[i, j]) > 0.6 * limit else "black")
        fig.suptitle(f"T = {temp.value:.2f}: each row of the Jacobian sums to 0")
        show_figure(out, fig)

    return live_widget_box([*sliders, temp], out, fig, refresh)


# ----------------------------------------------------------------------------
# computational graph f = (x + y) z (lecture 2)
# ----------------------------------------------------------------------------
def graph_trace_data(root):
    """Names, edges, operations, values and gradients of the graph ending at ``root``.

    Parameters
    ----------
    root : course.graph.Value
        Output node, after ``root.backward()``.

    Returns
    -------
    dict
        ``nodes`` (list of str, topological order; a repeated label gets
        ``#id`` appended), ``edges`` (list of (parent, child) names), ``ops``,
        ``values`` and ``grads`` (name -> op / float).
    """
    from course import graph

    nodes, edges = graph.trace(root)
    counts = {}
    for n in nodes:
        counts[n["label"]] = counts.get(n["label"], 0) + 1
    names = [n["label"] if n["label"] and counts[n["label"]] == 1 else f"{n['label']}#{n['id']}"
             for n in nodes]
    return {
        "nodes": names,
        "edges": [(names[a], names[b]) for a, b in edges],
        "ops": {name: n["op"] for name, n in zip(names, nodes)},
        "values": {name: float(n["data"]) for name, n in zip(names, nodes)},
        "grads": {name: float(n["grad"]) for name, n in zip(names, nodes)},
    }


def graph_example_data(x, y, z):
    """Forward values and backward gradients of f = (x + y) z, node by node.

    Built and differentiated by ``course.graph.add_mul_example``; at
    (x, y, z) = (-2, 5, -4): q = 3, f = -12, df/dq = z = -4,
    df/dx = df/dy = -4, df/dz = q = 3.

    Parameters
    ----------
    x, y, z : float

    Returns
    -------
    dict
        ``nodes`` (["x", "y", "q", "z", "f"] in topological order), ``edges``
        (list of (parent, child)), ``ops`` (name -> ``"+"``, ``"*"`` or ``""``),
        ``values`` and ``grads`` (name -> float), ``f`` (float).
    """
    from course import graph

    args = {name: real_number(val, name) for name, val in (("x", x), ("y", y), ("z", z))}
    named = graph.add_mul_example(args["x"], args["y"], args["z"])
    data = graph_trace_data(named["f"])
    data["f"] = float(named["f"].data)
    return data


def graph_widget():
    """Sliders for x, y, z; the graph of f = (x + y) z with values and gradients."""
    start = {"x": -2.0, "y": 5.0, "z": -4.0}
    sliders = [W.FloatSlider(value=v, min=-6.0, max=6.0, step=0.5, description=name,
                             continuous_update=False, layout=SLIDER_LAYOUT,
                             style=SLIDER_STYLE)
               for name, v in start.items()]
    fig, ax = new_figure(1, 1, figsize=(7.5, 3.4))
    out = W.Output()

    def refresh(change=None):
        d = graph_example_data(*(s.value for s in sliders))
        draw_graph(ax, d["nodes"], d["edges"], d["values"], d["grads"], d["ops"],
                   title=f"f = (x + y) z = {d['f']:.4g}")
        show_figure(out, fig)

    return live_widget_box(sliders, out, fig, refresh)
