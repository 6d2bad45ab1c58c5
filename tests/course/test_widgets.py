"""Lecture widgets: the pure data functions on hand-checked cases, the wrappers, the layout
fixes (legends off the curves, fixed colour scales, readable graphs, a useful empty dashboard)
and the package boundary between the numeric core and its teaching views.

Screenshots of every widget state checked here are written to artifacts/widgets/ (git-ignored).
"""

import io
import math
import subprocess
import sys
from pathlib import Path

import ipywidgets as W
import numpy as np
import pytest

from course import widgets
from course.widgets import plots

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "widgets"


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    return buf.getvalue()


def _sliders(box):
    found = []
    stack = list(box.children)
    while stack:
        child = stack.pop(0)
        if isinstance(child, W.Box):
            stack[:0] = list(child.children)
        else:
            found.append(child)
    return found


# ---------------------------------------------------------------- step vs sigmoid
def test_step_vs_sigmoid_hand_values():
    d = widgets.step_vs_sigmoid_data(2.0, z=[-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(d["z"], [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(d["step"], [0.0, 1.0, 1.0])
    s = 1.0 / (1.0 + math.exp(-2.0))
    np.testing.assert_allclose(d["sigmoid"], [1.0 - s, 0.5, s], rtol=1e-14)
    np.testing.assert_array_equal(d["step_derivative"], [0.0, 0.0, 0.0])
    # d/dz sigmoid(a z) = a s (1 - s): 2 * 0.25 at z = 0
    np.testing.assert_allclose(d["sigmoid_derivative"], [2 * s * (1 - s), 0.5, 2 * s * (1 - s)],
                               rtol=1e-14)


def test_step_vs_sigmoid_default_grid_and_steep_limit():
    d = widgets.step_vs_sigmoid_data(50.0)
    assert all(d[k].shape == (401,) for k in ("z", "step", "sigmoid", "step_derivative",
                                              "sigmoid_derivative"))
    far = np.abs(d["z"]) > 0.5
    np.testing.assert_allclose(d["sigmoid"][far], d["step"][far], atol=1e-10)
    assert d["sigmoid_derivative"].max() == pytest.approx(50.0 / 4)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "2", True, None])
def test_step_vs_sigmoid_rejects_bad_steepness(bad):
    with pytest.raises(ValueError, match="steepness"):
        widgets.step_vs_sigmoid_data(bad)


def test_step_vs_sigmoid_rejects_bad_grid():
    with pytest.raises(ValueError, match="z"):
        widgets.step_vs_sigmoid_data(1.0, z=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="z"):
        widgets.step_vs_sigmoid_data(1.0, z=[0.0, np.nan])


# ---------------------------------------------------------------- ReLU subgradient
def test_relu_subgradient_hand_values():
    d = widgets.relu_subgradient_data(0.25, z=[-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(d["relu"], [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(d["line"], [-0.25, 0.0, 0.5])
    np.testing.assert_array_equal(d["derivative"], [0.0, 0.25, 1.0])
    assert d["alpha"] == 0.25
    assert d["below"] is True


@pytest.mark.parametrize("alpha", [0.0, 1.0, 0.7])
def test_relu_subgradient_every_alpha_in_range_is_below(alpha):
    d = widgets.relu_subgradient_data(alpha)
    assert d["below"]
    assert d["z"].shape == d["relu"].shape == d["line"].shape == d["derivative"].shape
    assert d["derivative"][d["z"] == 0.0] == pytest.approx(alpha)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), "0.5"])
def test_relu_subgradient_rejects_alpha_outside_unit_interval(alpha):
    with pytest.raises(ValueError, match="alpha"):
        widgets.relu_subgradient_data(alpha)


def test_relu_line_data_marks_where_an_invalid_slope_crosses():
    z = [-1.0, 0.0, 2.0]
    steep = widgets.relu_line_data(1.5, z=z)
    np.testing.assert_array_equal(steep["line"], [-1.5, 0.0, 3.0])
    np.testing.assert_array_equal(steep["above"], [False, False, True])
    assert steep["below"] is False
    negative = widgets.relu_line_data(-0.5, z=z)
    np.testing.assert_array_equal(negative["above"], [True, False, False])
    assert negative["below"] is False
    for slope in (0.0, 0.3, 1.0):
        assert widgets.relu_line_data(slope)["below"] is True
    with pytest.raises(ValueError, match="slope"):
        widgets.relu_line_data(float("inf"))


# ---------------------------------------------------------------- CE vs MSE
def test_ce_vs_mse_hand_values_v1():
    z = [0.0, math.log(3.0)]  # sigmoid: 0.5 and 0.75
    d = widgets.ce_vs_mse_data(1, z=z)
    np.testing.assert_allclose(d["y_hat"], [0.5, 0.75], rtol=1e-14)
    np.testing.assert_allclose(d["ce"], [math.log(2.0), -math.log(0.75)], rtol=1e-12)
    np.testing.assert_allclose(d["ce_grad"], [-0.5, -0.25], rtol=1e-12)
    np.testing.assert_allclose(d["mse"], [0.25, 0.0625], rtol=1e-12)
    # 2 (y_hat - v) * y_hat (1 - y_hat)
    np.testing.assert_allclose(d["mse_grad"], [-0.25, 2 * -0.25 * 0.75 * 0.25], rtol=1e-12)


def test_ce_vs_mse_hand_values_v0_mirror():
    d1 = widgets.ce_vs_mse_data(1, z=[-2.0, 1.0])
    d0 = widgets.ce_vs_mse_data(0, z=[2.0, -1.0])
    np.testing.assert_allclose(d0["ce"], d1["ce"], rtol=1e-12)
    np.testing.assert_allclose(d0["mse"], d1["mse"], rtol=1e-12)
    np.testing.assert_allclose(d0["ce_grad"], -d1["ce_grad"], rtol=1e-12)
    np.testing.assert_allclose(d0["mse_grad"], -d1["mse_grad"], rtol=1e-12)


def test_ce_vs_mse_gradients_match_centred_differences():
    z = np.linspace(-6.0, 6.0, 13)
    h = 1e-6
    for v in (0, 1):
        d = widgets.ce_vs_mse_data(v, z=z)
        up = widgets.ce_vs_mse_data(v, z=z + h)
        down = widgets.ce_vs_mse_data(v, z=z - h)
        for key in ("ce", "mse"):
            numeric = (up[key] - down[key]) / (2 * h)
            np.testing.assert_allclose(d[f"{key}_grad"], numeric, atol=1e-8)


def test_mse_gradient_saturates_when_confidently_wrong():
    d = widgets.ce_vs_mse_data(1, z=[-20.0, -10.0])
    assert np.all(np.abs(d["mse_grad"]) < 1e-4)
    np.testing.assert_allclose(d["ce_grad"], [-1.0, -1.0], atol=1e-4)
    assert np.all(np.isfinite(d["ce"])) and d["ce"][0] == pytest.approx(20.0, rel=1e-6)


@pytest.mark.parametrize("v", [2, -1, 0.5, "1", None])
def test_ce_vs_mse_rejects_bad_label(v):
    with pytest.raises(ValueError, match="v"):
        widgets.ce_vs_mse_data(v)


# ---------------------------------------------------------------- softmax explorer
def test_softmax_explorer_hand_values():
    d = widgets.softmax_explorer_data([0.0, 0.0], 1.0)
    np.testing.assert_allclose(d["probabilities"], [0.5, 0.5])
    np.testing.assert_allclose(d["jacobian"], [[0.25, -0.25], [-0.25, 0.25]])
    # logits / T = [ln 3, 0] -> y = [3/4, 1/4]; dy/dz = J(y) / T
    d = widgets.softmax_explorer_data([2 * math.log(3.0), 0.0], 2.0)
    np.testing.assert_allclose(d["probabilities"], [0.75, 0.25], rtol=1e-14)
    np.testing.assert_allclose(d["jacobian"], np.array([[3, -3], [-3, 3]]) / 16 / 2, rtol=1e-12)


def test_softmax_explorer_jacobian_is_derivative_wrt_logits():
    rng = np.random.default_rng(0)
    z = rng.normal(size=5)
    T = 0.7
    d = widgets.softmax_explorer_data(z, T)
    assert d["probabilities"].shape == (5,) and d["jacobian"].shape == (5, 5)
    assert d["probabilities"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(d["jacobian"].sum(axis=0), 0.0, atol=1e-15)
    h = 1e-6
    numeric = np.empty((5, 5))
    for j in range(5):
        e = np.zeros(5)
        e[j] = h
        numeric[:, j] = (widgets.softmax_explorer_data(z + e, T)["probabilities"]
                         - widgets.softmax_explorer_data(z - e, T)["probabilities"]) / (2 * h)
    np.testing.assert_allclose(d["jacobian"], numeric, atol=1e-9)


@pytest.mark.parametrize("logits, temperature, name", [
    ([1.0, 2.0], 0.0, "temperature"),
    ([1.0, 2.0], -1.0, "temperature"),
    ([1.0], 1.0, "logits"),
    ([[1.0, 2.0]], 1.0, "logits"),
    ([1.0, np.inf], 1.0, "logits"),
])
def test_softmax_explorer_rejects_bad_input(logits, temperature, name):
    with pytest.raises(ValueError, match=name):
        widgets.softmax_explorer_data(logits, temperature)


# ---------------------------------------------------------------- graph
def test_graph_example_deck_values():
    d = widgets.graph_example_data(-2.0, 5.0, -4.0)
    assert d["f"] == -12.0
    assert d["values"] == {"x": -2.0, "y": 5.0, "z": -4.0, "q": 3.0, "f": -12.0}
    assert d["grads"] == {"x": -4.0, "y": -4.0, "z": 3.0, "q": -4.0, "f": 1.0}
    assert set(d["edges"]) == {("x", "q"), ("y", "q"), ("q", "f"), ("z", "f")}
    assert d["ops"]["q"] == "+" and d["ops"]["f"] == "*"
    assert d["nodes"][-1] == "f"


def test_graph_example_other_point_and_validation():
    d = widgets.graph_example_data(1.0, 2.0, 3.0)
    assert d["f"] == 9.0
    assert (d["grads"]["x"], d["grads"]["y"], d["grads"]["z"]) == (3.0, 3.0, 3.0)
    with pytest.raises(ValueError, match="y"):
        widgets.graph_example_data(1.0, float("nan"), 3.0)


# ---------------------------------------------------------------- training
def _toy_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X[:40], y[:40], X[40:], y[40:]


def test_run_training_history_callback_and_determinism():
    X_tr, y_tr, X_val, y_val = _toy_data()
    seen = []
    h1 = widgets.run_training(X_tr, y_tr, X_val, y_val, lr=0.5, batch_size=8, num_hiddens=8,
                              epochs=5, seed=3, callback=lambda e, h: seen.append(len(h.loss)))
    assert seen == [1, 2, 3, 4, 5]
    assert len(h1.loss) == len(h1.accuracy) == len(h1.val_accuracy) == 5
    assert h1.loss[-1] < h1.loss[0]
    h2 = widgets.run_training(X_tr, y_tr, X_val, y_val, lr=0.5, batch_size=8, num_hiddens=8,
                              epochs=5, seed=3)
    assert h1.loss == h2.loss
    full = widgets.run_training(X_tr, y_tr, X_val, y_val, lr=0.5, batch_size=None,
                                num_hiddens=8, epochs=3, seed=3)
    assert len(full.loss) == 3 and full.loss != h1.loss[:3]


@pytest.mark.parametrize("kwargs, name", [
    (dict(lr=0.0), "lr"),
    (dict(batch_size=0), "batch_size"),
    (dict(num_hiddens=2.5), "num_hiddens"),
    (dict(epochs=0), "epochs"),
    (dict(seed=None), "seed"),
])
def test_run_training_rejects_bad_settings(kwargs, name):
    X_tr, y_tr, X_val, y_val = _toy_data()
    settings = dict(lr=0.1, batch_size=8, num_hiddens=4, epochs=1, seed=0)
    settings.update(kwargs)
    with pytest.raises(ValueError, match=name):
        widgets.run_training(X_tr, y_tr, X_val, y_val, **settings)


def test_run_training_rejects_bad_arrays():
    X_tr, y_tr, X_val, y_val = _toy_data()
    with pytest.raises(ValueError, match="y_train"):
        widgets.run_training(X_tr, y_tr.astype(float), X_val, y_val, 0.1, 8, 4, 1, 0)
    with pytest.raises(ValueError, match="X_val"):
        widgets.run_training(X_tr, y_tr, X_val[:, :2], y_val, 0.1, 8, 4, 1, 0)


# ---------------------------------------------------------------- widget wrappers
@pytest.mark.parametrize("make, control", [
    (widgets.step_vs_sigmoid_widget, W.FloatSlider),
    (widgets.relu_subgradient_widget, W.FloatSlider),
    (widgets.ce_vs_mse_widget, W.ToggleButtons),
    (widgets.softmax_explorer_widget, W.FloatSlider),
    (widgets.graph_widget, W.FloatSlider),
])
def test_moving_a_control_changes_the_figure(make, control, capsys):
    box = make()
    controls = [c for c in _sliders(box) if isinstance(c, control)]
    assert controls, "no control of the expected kind"
    assert any(isinstance(c, W.Output) for c in box.children)
    before = _png(box.figure)
    c = controls[0]
    if isinstance(c, W.ToggleButtons):
        c.value = [v for _, v in c.options if v != c.value][0]
    else:
        c.value = c.max if c.value != c.max else c.min
    assert _png(box.figure) != before


def test_relu_widget_reaches_invalid_slopes_and_warns_in_red():
    box = widgets.relu_subgradient_widget()
    slider = next(c for c in _sliders(box) if isinstance(c, W.FloatSlider))
    assert slider.min < 0.0 and slider.max > 1.0, "the slider must reach invalid slopes"
    title = box.figure._suptitle
    assert "valid subgradient" in title.get_text()
    slider.value = 1.5
    assert "NOT a subgradient" in title.get_text() and "z > 0" in title.get_text()
    assert title.get_color() == plots.WARNING_COLOR
    ax_f = box.figure.axes[0]
    crossing = next(line for line in ax_f.get_lines() if line.get_label().startswith("above"))
    assert np.isfinite(crossing.get_ydata()).any(), "the crossing part of the line is not drawn"
    slider.value = -0.5
    assert "z < 0" in title.get_text()
    slider.value = 0.0
    assert "NOT" not in title.get_text() and title.get_color() == "black"
    assert not np.isfinite(crossing.get_ydata()).any()


def test_softmax_heat_map_keeps_a_fixed_colour_scale():
    box = widgets.softmax_explorer_widget(num_logits=3)
    image = box.figure.axes[1].images[0]
    temperature = next(c for c in _sliders(box) if isinstance(c, W.FloatLogSlider))
    scales = []
    for T in (0.1, 1.0, 10.0):
        temperature.value = T
        scales.append(image.get_clim())
    limit = widgets.loss_views.JACOBIAN_COLOR_LIMIT
    assert scales == [(-limit, limit)] * 3
    bars = box.figure.axes[0]
    assert bars.get_ylim()[0] == 0.0 and bars.get_ylim()[1] >= 1.0


def test_graph_labels_are_readable():
    box = widgets.graph_widget()
    ax = box.figure.axes[0]
    sizes = [t.get_fontsize() for t in ax.texts if t.get_text()]
    assert sizes and min(sizes) >= 11, f"graph text sizes {sorted(set(sizes))}"
    assert ax.title.get_fontsize() >= 13


def test_crowded_graph_gets_a_taller_figure():
    from course import graph
    neuron = graph.sigmoid_neuron_example(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)
    d = widgets.graph_trace_data(neuron["f"])
    fig, ax = plots.new_figure(1, 1, figsize=(12, 5))
    plots.draw_graph(ax, d["nodes"], d["edges"], d["values"], d["grads"], d["ops"])
    rows = max(sum(1 for p in plots.graph_layout(d["nodes"], d["edges"]).values() if p[0] == col)
               for col in range(10))
    assert rows == 4
    assert fig.get_size_inches()[1] >= (rows - 1) * plots.GRAPH_ROW_POINTS / 72.0


def test_empty_dashboard_has_sensible_axes_and_a_hint():
    X_tr, y_tr, X_val, y_val = _toy_data()
    box = widgets.training_dashboard_widget(X_tr, y_tr, X_val, y_val)
    ax_loss, ax_acc = box.figure.axes
    assert ax_loss.get_ylim() == (0.0, 2.5)
    assert ax_acc.get_ylim() == (0.0, 1.02)
    assert any("press Train" in t.get_text() for t in ax_loss.texts)
    assert ax_acc.get_legend() is None, "no legend without curves"


def test_softmax_widget_has_one_slider_per_logit_and_validates():
    box = widgets.softmax_explorer_widget(num_logits=3)
    names = [c.description for c in _sliders(box) if isinstance(c, W.FloatSlider)]
    assert names == ["z1", "z2", "z3"]
    with pytest.raises(ValueError, match="num_logits"):
        widgets.softmax_explorer_widget(num_logits=1)


def test_dashboard_trains_only_on_button(capsys):
    X_tr, y_tr, X_val, y_val = _toy_data()
    box = widgets.training_dashboard_widget(X_tr, y_tr, X_val, y_val)
    controls = _sliders(box)
    assert any(isinstance(c, W.Button) and c.description == "Train" for c in controls)
    batch = next(c for c in controls if isinstance(c, W.SelectionSlider))
    assert "full batch" in [label for label, _ in batch.options], "a full-batch option is required"
    before = _png(box.figure)
    for c in controls:
        if isinstance(c, (W.FloatLogSlider, W.IntSlider)):
            c.value = c.min
        elif isinstance(c, W.SelectionSlider):
            c.label = "full batch"
    assert _png(box.figure) == before, "moving a slider must not train"
    history = box.train()
    assert len(history.loss) == min(c.value for c in controls
                                    if isinstance(c, W.IntSlider) and c.description == "epochs")
    assert _png(box.figure) != before
    expected = widgets.run_training(X_tr, y_tr, X_val, y_val, lr=1e-3, batch_size=None,
                                    num_hiddens=4, epochs=1, seed=0)
    assert history.loss == expected.loss, "the dashboard did not train full batch with its settings"


# ---------------------------------------------------------------- legends and screenshots
def _states():
    """(name, widget box, function that moves it to the next state) for every widget state."""
    X_tr, y_tr, X_val, y_val = _toy_data()

    def set_value(kind, value, description=None):
        def move(box):
            control = next(c for c in _sliders(box) if isinstance(c, kind)
                           and (description is None or c.description == description))
            control.value = value
        return move

    def train(box):
        set_value(W.IntSlider, 4, "epochs")(box)
        box.train()

    return [
        ("step_vs_sigmoid", widgets.step_vs_sigmoid_widget, [("a10", set_value(W.FloatSlider, 10.0))]),
        ("relu_subgradient", widgets.relu_subgradient_widget,
         [("invalid_1.5", set_value(W.FloatSlider, 1.5)),
          ("invalid_-0.5", set_value(W.FloatSlider, -0.5))]),
        ("ce_vs_mse", widgets.ce_vs_mse_widget, [("v0", set_value(W.ToggleButtons, 0))]),
        ("softmax_explorer", widgets.softmax_explorer_widget,
         [("T0.1", set_value(W.FloatLogSlider, 0.1)), ("T10", set_value(W.FloatLogSlider, 10.0))]),
        ("graph", widgets.graph_widget, [("x6", set_value(W.FloatSlider, 6.0, "x"))]),
        ("training_dashboard",
         lambda: widgets.training_dashboard_widget(X_tr, y_tr, X_val, y_val), [("trained", train)]),
    ]


def _overlap(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_every_widget_state_keeps_legends_off_the_plots_and_is_saved_as_a_screenshot(capsys):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    checked = 0
    for name, make, moves in _states():
        box = make()
        for state, move in [("start", None), *moves]:
            if move is not None:
                move(box)
            fig = box.figure
            path = SCREENSHOTS / f"{name}_{state}.png"
            fig.savefig(path, dpi=90)  # also lays the figure out for the extents below
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            for ax in fig.axes:
                legend = ax.get_legend()
                if legend is None:
                    continue
                covered = [other for other in fig.axes
                           if _overlap(legend.get_window_extent(), other.get_window_extent())]
                assert not covered, f"{name} ({state}): a legend covers a plot area"
                checked += 1
    assert checked >= 8, f"only {checked} legends were checked"


def test_numeric_core_does_not_import_the_teaching_views():
    core = sorted(p.stem for p in (REPO / "course").glob("*.py")
                  if p.stem not in ("__init__", "plots"))  # plots.py: the old name of course.widgets.plots
    assert {"activations", "losses", "network", "graph"} <= set(core)
    code = ("import importlib, sys\n"
            f"for name in {core!r}:\n"
            "    importlib.import_module('course.' + name)\n"
            "bad = [m for m in sys.modules if m.startswith('course.widgets') or m == 'ipywidgets']\n"
            "print(bad)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"the numeric core imports {result.stdout.strip()}"


def test_every_public_widget_name_is_exported():
    assert callable(widgets.plots.draw_graph) and callable(widgets.plots.plot_digits)
    for name in widgets.__all__:
        assert hasattr(widgets, name), name