"""The computational-graph widget of lecture 2: f = (x + y) z with values and gradients."""

from __future__ import annotations

import ipywidgets as W

from course import graph
from course.widgets.controls import SLIDER_LAYOUT, SLIDER_STYLE, live_widget_box, real_number
from course.widgets.plots import draw_graph, new_figure, show_figure


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
    fig, ax = new_figure(1, 1, figsize=(8.0, 3.8))
    out = W.Output()

    def refresh(change=None):
        d = graph_example_data(*(s.value for s in sliders))
        draw_graph(ax, d["nodes"], d["edges"], d["values"], d["grads"], d["ops"],
                   title=f"f = (x + y) z = {d['f']:.4g}")
        show_figure(out, fig)

    return live_widget_box(sliders, out, fig, refresh)
