"""Activation widgets: step vs sigmoid (lecture 1) and the ReLU subgradient at 0 (lecture 4)."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from course import activations
from course.widgets.controls import SLIDER_LAYOUT, SLIDER_STYLE, grid, live_widget_box, real_number
from course.widgets.plots import WARNING_COLOR, legend_below, new_figure, show_figure


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
    fig, (ax_out, ax_der) = new_figure(1, 2, figsize=(9.0, 3.6))
    d = step_vs_sigmoid_data(slider.value)
    ax_out.plot(d["z"], d["step"], color="0.3", lw=2, label="step s(z)")
    (sig_line,) = ax_out.plot(d["z"], d["sigmoid"], color="tab:blue", lw=2,
                              label=r"$\sigma(a z)$")
    ax_out.set_title("outputs")
    ax_out.set_xlabel("z")
    ax_der.plot(d["z"], d["step_derivative"], color="0.3", lw=2, label="s'(z) = 0")
    (der_line,) = ax_der.plot(d["z"], d["sigmoid_derivative"], color="tab:blue", lw=2,
                              label=r"$a\,\sigma'(a z)$")
    ax_der.set_title("derivatives (what backprop multiplies by)")
    ax_der.set_xlabel("z")
    for ax in (ax_out, ax_der):
        ax.grid(alpha=0.3)
        legend_below(ax)
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
    """ReLU and the line ``alpha * z`` through its kink, for a valid subgradient ``alpha``.

    Every slope ``alpha`` in [0, 1] gives a line that stays below the ReLU:
    ``alpha`` is a subgradient of ReLU at 0, and
    ``relu_derivative(z, subgradient_at_zero=alpha)`` uses it at z = 0.
    For slopes outside [0, 1] use :func:`relu_line_data`.

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
    d = relu_line_data(a, z)
    return {
        "z": d["z"],
        "relu": d["relu"],
        "line": d["line"],
        "derivative": activations.relu_derivative(d["z"], subgradient_at_zero=a),
        "alpha": a,
        "below": d["below"],
    }


def relu_line_data(slope, z=None):
    """ReLU and the line ``slope * z`` through its kink, for ANY real slope.

    The line is a supporting line (and ``slope`` a subgradient of ReLU at 0)
    exactly when it never rises above the ReLU, which holds for slopes in
    [0, 1]. A slope above 1 crosses the ReLU for z > 0, a slope below 0
    crosses it for z < 0.

    Parameters
    ----------
    slope : float
    z : array_like, shape (G,), optional
        Grid (default 201 points in [-2, 2]).

    Returns
    -------
    dict
        ``z``, ``relu``, ``line`` = slope z (all shape (G,)); ``above`` (bool, shape (G,)):
        where the line is above the ReLU; ``slope`` (float); ``below`` (bool): whether the
        line stays under the ReLU on the whole grid, i.e. ``slope`` is a valid subgradient.
    """
    s = real_number(slope, "slope")
    z = grid(z, np.linspace(-2.0, 2.0, 201))
    relu = activations.relu(z)
    line = s * z
    above = line > relu + 1e-12
    return {"z": z, "relu": relu, "line": line, "above": above, "slope": s,
            "below": not bool(above.any())}


def relu_subgradient_widget():
    """Slider for the slope alpha of a line through the ReLU kink, valid or not.

    Slopes in [0, 1] are subgradients: the line stays below the ReLU. The slider also
    reaches slopes outside [0, 1]; then the line is drawn red where it crosses above the
    ReLU and a red warning says that the slope is NOT a subgradient.
    """
    slider = W.FloatSlider(value=0.5, min=-0.5, max=1.5, step=0.05,
                           description="slope α", continuous_update=False,
                           layout=SLIDER_LAYOUT, style=SLIDER_STYLE)
    fig, (ax_f, ax_d) = new_figure(1, 2, figsize=(9.0, 3.9))
    d = relu_line_data(slider.value)
    ax_f.plot(d["z"], d["relu"], color="0.2", lw=2.5, label="ReLU(z)")
    (line,) = ax_f.plot(d["z"], d["line"], "--", color="tab:orange", lw=2, label="α z")
    (crossing,) = ax_f.plot(d["z"], np.where(d["above"], d["line"], np.nan), color=WARNING_COLOR,
                            lw=4, label="above ReLU (not allowed)")
    ax_f.plot([0], [0], "o", color="0.2")
    ax_f.set_ylim(-1.2, 2.6)
    ax_f.set_title("a line through the kink: does it stay below ReLU?")
    ax_f.set_xlabel("z")
    z = d["z"]
    ax_d.plot(z[z < 0], np.zeros((z < 0).sum()), color="tab:blue", lw=2,
              label="ReLU'(z) for z ≠ 0")
    ax_d.plot(z[z > 0], np.ones((z > 0).sum()), color="tab:blue", lw=2)
    ax_d.axhspan(0.0, 1.0, color="tab:green", alpha=0.12, label="valid values at 0: [0, 1]")
    (dot,) = ax_d.plot([0], [slider.value], "o", color="tab:blue", ms=9,
                       label="chosen value at z = 0")
    ax_d.set_ylim(-0.7, 1.7)
    ax_d.set_title("derivative used by backprop")
    ax_d.set_xlabel("z")
    for ax in (ax_f, ax_d):
        ax.grid(alpha=0.3)
        legend_below(ax)
    out = W.Output()

    def refresh(change=None):
        d = relu_line_data(slider.value)
        line.set_ydata(d["line"])
        crossing.set_ydata(np.where(d["above"], d["line"], np.nan))
        dot.set_ydata([d["slope"]])
        if d["below"]:
            line.set_color("tab:orange")
            dot.set(marker="o", color="tab:blue")
            fig.suptitle(f"α = {d['slope']:.2f}: the line stays below ReLU, so α is a valid "
                         "subgradient at 0", color="black", fontweight="normal")
        else:
            side = "z > 0" if d["slope"] > 1 else "z < 0"
            line.set_color(WARNING_COLOR)
            dot.set(marker="X", color=WARNING_COLOR)
            fig.suptitle(f"α = {d['slope']:.2f} is NOT a subgradient: the line crosses above "
                         f"ReLU for {side}", color=WARNING_COLOR, fontweight="bold")
        for ax in (ax_f, ax_d):  # the legend shows the current colours and markers
            legend_below(ax)
        show_figure(out, fig)

    return live_widget_box([slider], out, fig, refresh)
