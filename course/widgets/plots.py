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
    "legend_below",
]

#: colours used for forward values and backward gradients (as in the decks:
#: values above the edges, gradients below them)
VALUE_COLOR = "tab:green"
GRAD_COLOR = "tab:red"
#: colour of warnings drawn into a figure (an invalid choice, for example)
WARNING_COLOR = "#c00000"
#: font sizes of the computational-graph drawings (readable at notebook zoom)
GRAPH_NODE_FONTSIZE = 13
GRAPH_NUMBER_FONTSIZE = 13
#: vertical room (points) one graph node needs with its value above and gradient below it
GRAPH_ROW_POINTS = 85.0


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


def legend_below(ax, ncol=2):
    """Put the legend of ``ax`` under the axes, outside the data area, so it never covers a curve.

    With the constrained layout of :func:`new_figure` the figure makes room for it.
    """
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol,
                     frameon=False, fontsize=9)


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


# numbers sit on a white patch above the arrows, so an arrow never hides a digit
_LABEL_BOX = {"bbox": {"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none"}, "zorder": 5}


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
    _make_room_for_rows(ax, pos)
    for parent, child in edges:
        ax.annotate(
            "", xy=pos[child], xytext=pos[parent],
            arrowprops=dict(arrowstyle="->", color="0.4", lw=1.4, shrinkA=25, shrinkB=25),
        )
    for name in nodes:
        x, y = pos[name]
        op = ops.get(name, "")
        label = f"{name}\n{op}" if op and op != name else name
        ax.scatter([x], [y], s=2300, color="white", edgecolor="0.2", lw=1.3, zorder=3)
        ax.text(x, y, label, ha="center", va="center", fontsize=GRAPH_NODE_FONTSIZE, zorder=4)
        ax.annotate(f"{values[name]:.4g}", (x, y), xytext=(0, 26), textcoords="offset points",
                    ha="center", va="bottom", color=VALUE_COLOR,
                    fontsize=GRAPH_NUMBER_FONTSIZE, fontweight="bold", **_LABEL_BOX)
        ax.annotate(f"{grads[name]:.4g}", (x, y), xytext=(0, -26), textcoords="offset points",
                    ha="center", va="top", color=GRAD_COLOR, fontsize=GRAPH_NUMBER_FONTSIZE,
                    fontweight="bold", **_LABEL_BOX)
    xs = [p[0] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_ylim(-0.45, 1.4)
    ax.set_axis_off()
    ax.text(0.0, 0.0, "green (above): forward value     red (below): gradient of the output",
            transform=ax.transAxes, fontsize=11, color="0.25")
    if title:
        ax.set_title(title, fontsize=14)


def _make_room_for_rows(ax, pos, y_range=1.85):
    """Grow the figure's height when a column holds more nodes than its height fits at full
    font size (each node needs ``GRAPH_ROW_POINTS``; the y range of the axes is ``y_range``)."""
    per_column = {}
    for x, _ in pos.values():
        per_column[x] = per_column.get(x, 0) + 1
    rows = max(per_column.values())
    if rows < 3:
        return
    fig = ax.get_figure()
    width, height = fig.get_size_inches()
    needed = (rows - 1) * GRAPH_ROW_POINTS / 72.0 * y_range + 1.0
    if needed > height:
        fig.set_size_inches(width, needed)


def plot_history(ax_loss, ax_acc, history, epochs=None):
    """Plot training loss and train/validation accuracy per epoch.

    Parameters
    ----------
    ax_loss, ax_acc : matplotlib Axes
    history : course.optim.History
        With per-epoch lists ``loss``, ``accuracy`` and ``val_accuracy``.
    epochs : int, optional
        Total number of epochs planned, to fix the x range while training runs.

    An empty history (before training) gives axes with sensible ranges (loss 0 to 2.5,
    accuracy 0 to 1) and a hint to press Train.
    """
    ax_loss.clear()
    ax_acc.clear()
    ep = list(range(1, len(history.loss) + 1))
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_title("loss")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0.0, 1.02)
    ax_acc.set_title("accuracy")
    if ep:
        ax_loss.plot(ep, history.loss, "o-", ms=3, color="tab:blue", label="training loss")
        ax_loss.set_ylim(bottom=0.0)
        ax_acc.plot(ep, history.accuracy, "o-", ms=3, label="train")
        if len(history.val_accuracy):
            ax_acc.plot(ep[: len(history.val_accuracy)], history.val_accuracy, "s-", ms=3,
                        label="validation")
        legend_below(ax_acc)
        legend_below(ax_loss, ncol=1)
    else:  # before training: sensible empty axes and a hint instead of a -0.04..0.04 range
        ax_loss.set_ylim(0.0, 2.5)
        for ax in (ax_loss, ax_acc):
            ax.text(0.5, 0.5, "press Train:\nthe curves appear here,\none point per epoch",
                    transform=ax.transAxes, ha="center", va="center", fontsize=11,
                    color="0.45")
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
