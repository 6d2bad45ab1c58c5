"""A tiny scalar computational graph with reverse-mode differentiation.

Every node is a :class:`Value` holding a number (``data``), the gradient of the
final output with respect to that number (``grad``), the nodes it was computed
from and the name of the operation that made it. Each operation stores its
backward rule next to its forward rule: *local derivative times upstream
gradient, accumulated with* ``+=``. Accumulating is what makes a value used
twice receive the sum of both gradients ("copy adds").

Primitives: add, mul, exp, reciprocal (1/x), maximum and a fused sigmoid.
Negation, subtraction and division are built from them::

    -a    = a * (-1)
    a - b = a + b * (-1)
    a / b = a * b.reciprocal()

Gate patterns seen on the backward pass (lecture on computational graphs):

* add gate distributes: both inputs receive the upstream gradient unchanged;
* mul gate swaps: each input receives the upstream gradient times the *other* input;
* copy gate adds: a value used several times receives the sum of its gradients;
* max gate routes: the larger input receives the whole upstream gradient,
  the other receives 0 (on a tie, the first input gets it).

Examples
--------
>>> parts = add_mul_example(-2.0, 5.0, -4.0)
>>> parts["f"].data, parts["x"].grad, parts["z"].grad
(-12.0, -4.0, 3.0)
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import activations

__all__ = ["Value", "trace", "add_mul_example", "sigmoid_neuron_example"]


def _as_real_number(data, name="data"):
    """Return ``data`` as a finite Python float or raise ValueError."""
    if isinstance(data, np.ndarray) and data.ndim == 0:
        data = data[()]
    if isinstance(data, (bool, np.bool_)) or not isinstance(data, numbers.Real):
        raise ValueError(
            f"{name} must be a finite real number, got {data!r} of type {type(data).__name__}"
        )
    value = float(data)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return value


class Value:
    """A scalar node of a computational graph.

    Parameters
    ----------
    data : float
        The forward value of this node; must be a finite real number.
    label : str, optional
        Name shown when the graph is drawn (e.g. ``"x"``, ``"q"``, ``"f"``).

    Attributes
    ----------
    data : float
        Forward value.
    grad : float
        d(root)/d(this node) after ``root.backward()``; 0.0 before.
    label : str
        Display name.
    op : str
        Operation that produced the node: ``""`` for an input (leaf),
        ``"+"``, ``"*"``, ``"exp"``, ``"1/x"``, ``"max"`` or ``"sigmoid"``.
    children : tuple of Value
        The inputs of that operation, in order.
    """

    def __init__(self, data, label="", _children=(), _op=""):
        if not isinstance(label, str):
            raise ValueError(f"label must be a str, got {label!r} of type {type(label).__name__}")
        self.data = _as_real_number(data)
        self.grad = 0.0
        self.label = label
        self.op = _op
        self.children = tuple(_children)
        self._backward = lambda: None

    def __repr__(self):
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"

    # ------------------------------------------------------------------ primitives
    def __add__(self, other):
        """Add gate: ``out = a + b``; local derivatives 1 and 1 (distributes)."""
        other = _as_value(other)
        out = Value(self.data + other.data, _children=(self, other), _op="+")

        def _backward():
            self.grad += 1.0 * out.grad
            other.grad += 1.0 * out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        """Mul gate: ``out = a * b``; d out/d a = b, d out/d b = a (swaps)."""
        other = _as_value(other)
        out = Value(self.data * other.data, _children=(self, other), _op="*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def exp(self):
        """``out = e^a``; local derivative e^a (the output itself)."""
        try:
            result = math.exp(self.data)
        except OverflowError:
            raise ValueError(f"exp({self.data!r}) overflows a float64") from None
        out = Value(result, _children=(self,), _op="exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def reciprocal(self):
        """``out = 1 / a``; local derivative -1 / a^2."""
        if self.data == 0.0:
            raise ValueError("reciprocal of 0 is undefined (data must be nonzero)")
        out = Value(1.0 / self.data, _children=(self,), _op="1/x")

        def _backward():
            self.grad += (-1.0 / self.data**2) * out.grad

        out._backward = _backward
        return out

    def maximum(self, other):
        """Max gate: ``out = max(a, b)``; routes the gradient to the larger input.

        On a tie (a == b) the whole gradient goes to ``a`` (the first input),
        a valid subgradient choice.
        """
        other = _as_value(other)
        first_wins = self.data >= other.data
        out = Value(max(self.data, other.data), _children=(self, other), _op="max")

        def _backward():
            if first_wins:
                self.grad += out.grad
            else:
                other.grad += out.grad

        out._backward = _backward
        return out

    def sigmoid(self):
        """Fused sigmoid gate: ``out = 1 / (1 + e^{-a})``; local derivative ``out (1 - out)``.

        Equal to the primitive chain ``((a * -1).exp() + 1).reciprocal()``, but
        one node instead of four, and stable for large ``|a|``.
        """
        z = np.asarray(self.data, dtype=np.float64)
        out = Value(float(activations.sigmoid(z)), _children=(self,), _op="sigmoid")
        local = float(activations.sigmoid_derivative(z))

        def _backward():
            self.grad += local * out.grad

        out._backward = _backward
        return out

    # ------------------------------------------------------------- derived ops
    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-_as_value(other))

    def __rsub__(self, other):
        return _as_value(other) + (-self)

    def __truediv__(self, other):
        return self * _as_value(other).reciprocal()

    def __rtruediv__(self, other):
        return _as_value(other) * self.reciprocal()

    # ---------------------------------------------------------------- backward
    def nodes(self):
        """All nodes this value depends on, itself included, in topological order.

        Returns
        -------
        list of Value
            Every node appears after all of its children (inputs first, ``self`` last).
        """
        order, seen = [], set()
        stack = [(self, False)]
        while stack:  # iterative depth-first search: no recursion limit on long chains
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for child in reversed(node.children):
                if id(child) not in seen:
                    stack.append((child, False))
        return order

    def backward(self, grad=1.0):
        """Reverse-mode differentiation from this node.

        Resets ``grad`` of every node in the graph to 0, sets ``self.grad = grad``
        (1.0 by default: d self / d self), then visits the nodes in reverse
        topological order and lets each one pass ``local derivative * upstream
        gradient`` to its inputs. Calling it twice gives the same gradients.

        Parameters
        ----------
        grad : float, optional
            Upstream gradient seeded at this node.
        """
        grad = _as_real_number(grad, name="grad")
        order = self.nodes()
        for node in order:
            node.grad = 0.0
        self.grad = grad
        for node in reversed(order):
            node._backward()


def _as_value(x):
    """Wrap a plain number as a constant leaf labelled with its value."""
    if isinstance(x, Value):
        return x
    number = _as_real_number(x, name="operand")
    return Value(number, label=f"{number:g}")


def trace(root):
    """Nodes and edges of the graph ending at ``root``, for drawing.

    Parameters
    ----------
    root : Value
        Output node of the graph.

    Returns
    -------
    nodes : list of dict
        One dict per node in topological order (inputs first, root last) with
        keys ``"id"`` (its position in this list), ``"label"``, ``"op"``,
        ``"data"`` and ``"grad"``.
    edges : list of tuple of int
        ``(input_id, output_id)`` pairs, one per input of each operation,
        ordered like the outputs' nodes.
    """
    if not isinstance(root, Value):
        raise ValueError(f"root must be a Value, got {type(root).__name__}")
    order = root.nodes()
    index = {id(node): i for i, node in enumerate(order)}
    nodes = [
        {"id": i, "label": n.label, "op": n.op, "data": n.data, "grad": n.grad}
        for i, n in enumerate(order)
    ]
    edges = [(index[id(child)], index[id(n)]) for n in order for child in n.children]
    return nodes, edges


def add_mul_example(x=-2.0, y=5.0, z=-4.0):
    """Build and differentiate f = (x + y) z, the first worked example of the deck.

    Parameters
    ----------
    x, y, z : float
        Inputs (deck values: x = -2, y = 5, z = -4, giving f = -12,
        df/dx = df/dy = z = -4 and df/dz = q = 3).

    Returns
    -------
    dict of str to Value
        Nodes ``"x"``, ``"y"``, ``"z"``, ``"q"`` (= x + y) and ``"f"`` (= q z),
        with ``backward()`` already run from ``"f"``.
    """
    vx, vy, vz = Value(x, "x"), Value(y, "y"), Value(z, "z")
    q = vx + vy
    q.label = "q"
    f = q * vz
    f.label = "f"
    f.backward()
    return {"x": vx, "y": vy, "z": vz, "q": q, "f": f}


def sigmoid_neuron_example(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0):
    """Build and differentiate f = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))) from primitives.

    The graph uses only mul, add, negation (mul by -1), exp, add 1 and
    reciprocal, as drawn in the deck. With the deck's values f = sigma(1)
    ~ 0.73 and, writing s = f, ds/dz = s (1 - s) ~ 0.20 for z = w0 x0 + w1 x1 + w2:
    df/dw0 = x0 s(1-s), df/dx0 = w0 s(1-s), df/dw1 = x1 s(1-s),
    df/dx1 = w1 s(1-s), df/dw2 = s(1-s).

    Parameters
    ----------
    w0, x0, w1, x1, w2 : float
        Weights, inputs and bias (w2 multiplies the dummy input 1).

    Returns
    -------
    dict of str to Value
        Inputs ``"w0"``, ``"x0"``, ``"w1"``, ``"x1"``, ``"w2"``; intermediate
        nodes ``"w0x0"``, ``"w1x1"``, ``"s"`` (= w0x0 + w1x1), ``"z"`` (= s + w2),
        ``"-z"``, ``"exp"``, ``"1+exp"``; and the output ``"f"``; with
        ``backward()`` already run from ``"f"``.
    """
    named = {k: Value(v, k) for k, v in dict(w0=w0, x0=x0, w1=w1, x1=x1, w2=w2).items()}
    steps = {}
    steps["w0x0"] = named["w0"] * named["x0"]
    steps["w1x1"] = named["w1"] * named["x1"]
    steps["s"] = steps["w0x0"] + steps["w1x1"]
    steps["z"] = steps["s"] + named["w2"]
    steps["-z"] = steps["z"] * -1.0
    steps["exp"] = steps["-z"].exp()
    steps["1+exp"] = steps["exp"] + 1.0
    steps["f"] = steps["1+exp"].reciprocal()
    for label, node in steps.items():
        node.label = label
    steps["f"].backward()
    return {**named, **steps}
