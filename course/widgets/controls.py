"""Shared pieces of the lecture widgets: input checks for the pure functions, slider
styling and the box that packs controls with their figure."""

from __future__ import annotations

import numbers

import ipywidgets as W
import numpy as np

SLIDER_LAYOUT = {"width": "420px"}  # a dict: each control gets its own Layout
SLIDER_STYLE = {"description_width": "110px"}


def real_number(value, name):
    """Return ``value`` as a finite float or raise ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def grid(z, default):
    """Return the 1-D float64 grid ``z`` (``default`` when None)."""
    if z is None:
        return default.copy()
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 1 or z.size < 2:
        raise ValueError(f"z must be a 1-D grid with at least 2 points, got shape {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("z contains NaN or infinite values")
    return z


def widget_box(controls, out, fig, refresh):
    """Pack controls and output into a VBox that knows its figure."""
    box = W.VBox([*controls, out])
    box.figure = fig
    box.refresh = refresh
    return box


def live_widget_box(controls, out, fig, refresh):
    """:func:`widget_box` whose figure is redrawn by ``refresh`` now and whenever the value of
    one of ``controls`` changes."""
    for control in controls:
        control.observe(refresh, names="value")
    refresh()
    return widget_box(controls, out, fig, refresh)


