"""Small matplotlib helpers shared by the lecture widgets and notebooks.

Figures are made with :class:`matplotlib.figure.Figure` directly (not through
``pyplot``), so a notebook never shows them twice: a widget creates its figure
once, updates the artists when a slider moves and re-displays the figure inside
an :class:`ipywidgets.Output` with :func:`show_figure`.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "new_figure",
    "figure_png",
    "show",
    "show_figure",
    "graph_layout",
    "draw_graph",
    "plot_history",
    "plot_digits",
]

#: colours used for forward values and backward gradients (as in the decks:
#: values above the edges, gradients below them)
VALUE_COLOR = "tab:green"
GRAD_COLOR = "tab:red"


def new_figure(nrows=1, ncols=1, figsize=(8.0, 3.2), **subplot_kw):
    """Create a figure that is not registered with ``pyplot``.

    Parameters
    ----------
    nrows, ncols : int
        Grid of axes.
    figsize : tuple of float
        Width and height in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : Axes or ndarray of Axes
        Same convention as ``pyplot.subplots`` (squeezed).
    """
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, subplot_kw=subplot_kw or None)
    return fig, axes


def figure_png(fig, dpi=90):
    """Render a figure to PNG bytes (independent of the matplotlib backend)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def show(fig):
    """Display a figure as a PNG image in the current notebook cell."""
    from IPython.display import Image, display

    display(Image(data=figure_png(fig), format="png"))


def show_figure(out, fig):
    """Replace the content of an ``ipywidgets.Output`` with ``fig`` (as a PNG).

    Parameters
    ----------
    out : ipywidgets.Output
        The output area owned by a widget.
    fig : matplotlib.figure.Figure
        The figure to (re)draw.
    """
    from IPython.display import clear_output

    with out:
        clear_output(wait=True)
        show(fig)


def graph_layout(nodes, edges):
    """Place the nodes of a computational graph on a grid, inputs on the left.

    The column of an operation node is the length of the longest path from an
    input (a node without parents) to it; an input sits one column left of its
    first consumer. Rows are spread evenly within a column.

    Parameters
    ----------
    nodes : list of str
        Node names, in topological order (inputs first).
    edges : list of tuple (str, str)
        ``(parent, child)`` pairs: ``child`` is computed from ``parent``.

    Returns
    -------
    dict
        ``name -> (x, y)`` with x = column index and y in [0, 1].
    """
    depth = {name: 0 for name in nodes}
    for name in nodes:  # topological order: parents are final before children
        for parent, child in edges:
            if child == name:
                depth[name] = max(depth[name], depth[parent] + 1)
    for name in nodes:  # an input sits just left of its first consumer
        children = [depth[c] for p, c in edges if p == name]
        if depth[name] == 0 and children:
            depth[name] = min(children) - 1
    columns = {}
    for name in nodes:
        columns.setdefault(depth[name], []).append(name)
    positions = {}
    for col, names in columns.items():
        n = len(names)
        for i, name in enumerate(names):
            positions[name] = (float(col), 0.5 if n == 1 else 1.0 - i / (n - 1))
    return positions


def draw_graph(ax, nodes, edges, values, grads, ops=None, title=None):
    """Draw a computational graph with forward values and backward gradients.

    Each node is a circle with its name (and operation, if given); the forward
    value is written above it in green and the gradient of the output with
    respect to it below in red.

    Parameters
    ----------
    ax : matplotlib Axes
    nodes : list of str
        Node names in topological order.
    edges : list of tuple (str, str)
        ``(parent, child)`` pairs.
    values, grads : dict
        ``name -> float``: forward value and gradient of every node.
    ops : dict, optional
        ``name -> str``: the operation that made the node (``"+"``, ``"*"``...).
    title : str, optional
    """
    ops = ops or {}
    pos = graph_layout(nodes, edges)
    ax.clear()
    for parent, child in edges:
        ax.annotate(
            "", xy=pos[child], xytext=pos[parent],
            arrowprops=dict(arrowstyle="->", color="0.4", lw=1.2, shrinkA=20, shrinkB=20),
        )
    for name in nodes:
        x, y = pos[name]
        op = ops.get(name, "")
        label = f"{name}\n{op}" if op and op != name else name
        ax.scatter([x], [y], s=1400, color="white", edgecolor="0.2", zorder=3)
        ax.text(x, y, label, ha="center", va="center", fontsize=9, zorder=4)
        ax.annotate(f"{values[name]:.4g}", (x, y), xytext=(0, 20), textcoords="offset points",
                    ha="center", va="bottom", color=VALUE_COLOR, fontsize=10,
                    fontweight="bold")
        ax.annotate(f"{grads[name]:.4g}", (x, y), xytext=(0, -20), textcoords="offset points",
                    ha="center", va="top", color=GRAD_COLOR, fontsize=10, fontweight="bold")
    xs = [p[0] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_ylim(-0.3, 1.3)
    ax.set_axis_off()
    ax.text(min(xs) - 0.45, -0.28, "green: forward value   red: gradient of the output",
            fontsize=8, color="0.3")
    if title:
        ax.set_title(title)


def plot_history(ax_loss, ax_acc, history, epochs=None):
    """Plot training loss and train/validation accuracy per epoch.

    Parameters
    ----------
    ax_loss, ax_acc : matplotlib Axes
    history : course.optim.History
        With per-epoch lists ``loss``, ``accuracy`` and ``val_accuracy``.
    epochs : int, optional
        Total number of epochs planned, to fix the x range while training runs.
    """
    ax_loss.clear()
    ax_acc.clear()
    ep = list(range(1, len(history.loss) + 1))
    ax_loss.plot(ep, history.loss, "o-", ms=3, color="tab:blue")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_title("loss")
    ax_acc.plot(ep, history.accuracy, "o-", ms=3, label="train")
    if len(history.val_accuracy):
        ax_acc.plot(ep[: len(history.val_accuracy)], history.val_accuracy, "s-", ms=3,
                    label="validation")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0.0, 1.02)
    ax_acc.set_title("accuracy")
    ax_acc.legend(loc="lower right")
    if epochs is not None:
        for ax in (ax_loss, ax_acc):
            ax.set_xlim(0.5, epochs + 0.5)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)


def plot_digits(X, y, num=10, side=None, titles=None, figsize=None):
    """Show the first ``num`` images of a data set as a row of grey images.

    Parameters
    ----------
    X : ndarray, shape (B, side * side)
        Flattened square images.
    y : ndarray, shape (B,)
        Labels shown as titles (unless ``titles`` is given).
    num : int
        How many images to show.
    side : int, optional
        Image side; by default ``sqrt(X.shape[1])``.
    titles : list of str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must have shape (B, side * side), got shape {X.shape}")
    side = side or int(round(np.sqrt(X.shape[1])))
    if side * side != X.shape[1]:
        raise ValueError(f"X rows must be square images, got {X.shape[1]} pixels")
    num = min(num, X.shape[0])
    fig, axes = new_figure(1, num, figsize=figsize or (1.1 * num, 1.5))
    axes = np.atleast_1d(axes)
    for i, ax in enumerate(axes):
        ax.imshow(X[i].reshape(side, side), cmap="gray_r")
        ax.set_title(titles[i] if titles is not None else str(y[i]), fontsize=9)
        ax.set_axis_off()
    return fig
