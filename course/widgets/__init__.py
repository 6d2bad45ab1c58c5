"""The course's teaching views: interactive lecture widgets and the plots behind them.

The numeric core (``course.activations``, ``course.losses``, ``course.graph``, ...) never
imports from here; these modules only draw what the core computes.

Every widget has two parts:

* a pure ``*_data`` function that computes what is drawn, with the library, and is tested
  without a browser;
* a thin ``*_widget`` wrapper: ipywidgets controls plus one matplotlib figure, created once;
  a control change updates the artists and re-displays the figure in an ``ipywidgets.Output``.

The returned widget (an ``ipywidgets.VBox``) carries the figure as ``.figure`` and a
``.refresh()`` method that redraws it from the current control values.

Modules
-------
plots
    matplotlib helpers (figures outside pyplot, graph drawing, training curves, digits).
controls
    input checks for the pure functions, slider styling, the box that packs a widget.
activation_views
    step vs sigmoid (lecture 1), the ReLU subgradient at 0 (lecture 4).
loss_views
    cross-entropy vs MSE (lecture 5), the softmax explorer (lecture 6).
graph_view
    the computational graph of f = (x + y) z (lecture 2).
dashboard
    the live training dashboard (lecture 9).
"""

from course.widgets import plots
from course.widgets.activation_views import (relu_line_data, relu_subgradient_data,
                                             relu_subgradient_widget, step_vs_sigmoid_data,
                                             step_vs_sigmoid_widget)
from course.widgets.dashboard import run_training, training_dashboard_widget
from course.widgets.graph_view import graph_example_data, graph_trace_data, graph_widget
from course.widgets.loss_views import (ce_vs_mse_data, ce_vs_mse_widget, softmax_explorer_data,
                                       softmax_explorer_widget)

__all__ = [
    "plots",
    "step_vs_sigmoid_data",
    "step_vs_sigmoid_widget",
    "relu_line_data",
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
