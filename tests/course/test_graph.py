"""Tests of course.graph: worked deck examples, gate patterns, numerical gradients."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from course.graph import Value, add_mul_example, sigmoid_neuron_example, trace


def _closed_form_sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


# --------------------------------------------------------------- worked examples
def test_add_mul_example_matches_deck():
    parts = add_mul_example(-2.0, 5.0, -4.0)
    assert parts["q"].data == 3.0
    assert parts["f"].data == -12.0
    assert parts["x"].grad == -4.0
    assert parts["y"].grad == -4.0
    assert parts["z"].grad == 3.0
    assert parts["q"].grad == -4.0
    assert parts["f"].grad == 1.0


def test_add_mul_example_labels_and_defaults():
    parts = add_mul_example()
    assert {k: v.label for k, v in parts.items()} == {k: k for k in "xyzqf"}
    assert parts["f"].data == -12.0
    assert parts["q"].op == "+" and parts["f"].op == "*"


def test_sigmoid_neuron_example_matches_closed_form():
    w0, x0, w1, x1, w2 = 2.0, -1.0, -3.0, -2.0, -3.0
    parts = sigmoid_neuron_example(w0, x0, w1, x1, w2)
    s = _closed_form_sigmoid(w0 * x0 + w1 * x1 + w2)
    local = s * (1.0 - s)
    assert parts["f"].data == pytest.approx(s, rel=1e-15)
    expected = {"w0": x0 * local, "x0": w0 * local, "w1": x1 * local, "x1": w1 * local, "w2": local}
    for name, value in expected.items():
        assert parts[name].grad == pytest.approx(value, rel=1e-12), name
    # the rounded numbers printed on the slide
    rounded = {k: round(parts[k].grad, 2) for k in expected}
    assert rounded == {"w0": -0.2, "x0": 0.39, "w1": -0.39, "x1": -0.59, "w2": 0.2}
    assert round(parts["f"].data, 2) == 0.73


def test_sigmoid_neuron_uses_only_primitive_ops():
    parts = sigmoid_neuron_example()
    ops = {node.op for node in parts["f"].nodes()}
    assert ops == {"", "*", "+", "exp", "1/x"}
    assert parts["1+exp"].grad == pytest.approx(-1.0 / parts["1+exp"].data ** 2)
    assert parts["exp"].grad == pytest.approx(parts["1+exp"].grad)  # + 1 distributes


# ------------------------------------------------------------------ gate patterns
def test_add_gate_distributes():
    a, b = Value(3.0, "a"), Value(-7.0, "b")
    out = a + b
    out.backward(2.5)
    assert a.grad == 2.5 and b.grad == 2.5


def test_mul_gate_swaps():
    a, b = Value(3.0, "a"), Value(-7.0, "b")
    out = a * b
    out.backward(2.0)
    assert a.grad == -7.0 * 2.0
    assert b.grad == 3.0 * 2.0


def test_copy_gate_adds():
    a = Value(3.0, "a")
    out = a * a + a  # a used three times
    out.backward()
    assert out.data == 12.0
    assert a.grad == 2 * 3.0 + 1.0


def test_copy_gate_adds_through_shared_intermediate():
    x = Value(1.5, "x")
    h = x.exp()
    out = h * Value(2.0) + h * Value(-5.0)
    out.backward()
    assert h.grad == pytest.approx(2.0 - 5.0)
    assert x.grad == pytest.approx((2.0 - 5.0) * math.exp(1.5))


@pytest.mark.parametrize("a_val, b_val, a_grad, b_grad", [(4.0, 1.0, 3.0, 0.0), (-1.0, 2.0, 0.0, 3.0), (2.0, 2.0, 3.0, 0.0)])
def test_max_gate_routes(a_val, b_val, a_grad, b_grad):
    a, b = Value(a_val, "a"), Value(b_val, "b")
    out = a.maximum(b)
    out.backward(3.0)
    assert out.data == max(a_val, b_val)
    assert (a.grad, b.grad) == (a_grad, b_grad)


def test_maximum_with_plain_number_is_relu():
    z = Value(-0.5)
    out = z.maximum(0.0)
    out.backward()
    assert out.data == 0.0 and z.grad == 0.0
    z = Value(0.5)
    out = z.maximum(0.0)
    out.backward()
    assert out.data == 0.5 and z.grad == 1.0


def test_exp_and_reciprocal_local_gradients():
    x = Value(0.7)
    y = x.exp()
    y.backward()
    assert x.grad == pytest.approx(math.exp(0.7))
    x = Value(-4.0)
    y = x.reciprocal()
    y.backward()
    assert y.data == -0.25
    assert x.grad == pytest.approx(-1.0 / 16.0)


def test_derived_ops_sub_neg_div():
    a, b = Value(6.0), Value(4.0)
    assert (a - b).data == 2.0
    assert (-a).data == -6.0
    assert (a / b).data == 1.5
    assert (1.0 - a).data == -5.0
    assert (3.0 / b).data == 0.75
    assert (2 + a).data == 8.0 and (2 * a).data == 12.0
    out = a / b
    out.backward()
    assert a.grad == pytest.approx(1.0 / 4.0)
    assert b.grad == pytest.approx(-6.0 / 16.0)


# For large positive z, s (1 - s) keeps few correct digits of 1 - s: the range stops at 5.
@pytest.mark.parametrize("z", [-30.0, -3.0, -0.1, 0.0, 0.1, 1.0, 3.0, 5.0])
def test_sigmoid_op_equals_primitive_chain(z):
    fused_in = Value(z)
    fused = fused_in.sigmoid()
    fused.backward()
    chain_in = Value(z)
    chain = ((chain_in * -1.0).exp() + 1.0).reciprocal()
    chain.backward()
    assert fused.op == "sigmoid" and fused.children == (fused_in,)
    assert fused.data == pytest.approx(chain.data, rel=1e-14, abs=1e-300)
    assert fused_in.grad == pytest.approx(chain_in.grad, rel=1e-12, abs=1e-300)


def test_sigmoid_op_is_stable_where_chain_overflows():
    z = Value(-1000.0)
    out = z.sigmoid()
    out.backward()
    assert out.data == 0.0 and z.grad == 0.0
    with pytest.raises(ValueError, match="overflow"):
        (Value(-1000.0) * -1.0).exp()


# ------------------------------------------------------------------- backward
def test_backward_twice_gives_same_gradients():
    parts = add_mul_example()
    parts["f"].backward()
    assert parts["x"].grad == -4.0 and parts["z"].grad == 3.0


def test_long_chain_has_no_recursion_limit():
    x = Value(1.0, "x")
    out = x
    for _ in range(5000):
        out = out + 1.0
    out.backward()
    assert out.data == 5001.0 and x.grad == 1.0


def test_nodes_are_topologically_sorted():
    parts = sigmoid_neuron_example()
    order = parts["f"].nodes()
    assert order[-1] is parts["f"]
    position = {id(n): i for i, n in enumerate(order)}
    assert len(position) == len(order)
    for node in order:
        for child in node.children:
            assert position[id(child)] < position[id(node)]


def test_trace_lists_nodes_and_edges():
    parts = add_mul_example()
    nodes, edges = trace(parts["f"])
    assert [n["id"] for n in nodes] == list(range(5))
    by_label = {n["label"]: n for n in nodes}
    assert set(by_label) == set("xyzqf")
    assert nodes[-1]["label"] == "f"
    assert by_label["q"] == {"id": by_label["q"]["id"], "label": "q", "op": "+", "data": 3.0, "grad": -4.0}
    named_edges = {(nodes[i]["label"], nodes[j]["label"]) for i, j in edges}
    assert named_edges == {("x", "q"), ("y", "q"), ("q", "f"), ("z", "f")}
    assert len(edges) == 4
    assert all(i < j for i, j in edges)


def test_trace_names_constants():
    nodes, edges = trace(sigmoid_neuron_example()["f"])
    labels = [n["label"] for n in nodes]
    assert "-1" in labels and "1" in labels
    # 6 binary ops (2 mul, 2 add, mul by -1, add 1) give 12 edges; exp and 1/x give 2
    assert len(edges) == 14


# --------------------------------------------------------------------- validation
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1 + 2j, "3", None, True, [1.0], np.array([1.0, 2.0])])
def test_value_rejects_non_finite_or_non_real(bad):
    with pytest.raises(ValueError, match="finite real number"):
        Value(bad)


def test_value_accepts_numpy_scalars():
    assert Value(np.float32(1.5)).data == 1.5
    assert Value(np.int64(3)).data == 3.0
    assert Value(np.array(2.0)).data == 2.0
    assert isinstance(Value(np.float32(1.5)).data, float)


def test_operand_and_label_validation():
    with pytest.raises(ValueError, match="operand"):
        Value(1.0) + float("nan")
    with pytest.raises(ValueError, match="label"):
        Value(1.0, label=3)
    with pytest.raises(ValueError, match="reciprocal of 0"):
        Value(0.0).reciprocal()
    with pytest.raises(ValueError, match="root"):
        trace(1.0)
    with pytest.raises(ValueError, match="grad"):
        Value(1.0).backward(float("inf"))


# ------------------------------------------------------- gradients vs differences
def _expression(v, exp, recip, maximum):
    """A fixed expression using every primitive, written generically.

    ``v`` is a list of 4 numbers or Values; the helpers give exp, 1/x and max.
    """
    a, b, c, d = v
    h = a * b + c  # shared intermediate (copy gate)
    g = maximum(h, d * 0.5)
    return recip(exp(h * 0.3) + 1.0) * g - c / (d * d + 1.0) + h * h * 0.1


def _on_values(v):
    return _expression(v, lambda x: x.exp(), lambda x: x.reciprocal(), lambda x, y: x.maximum(y))


def _on_floats(v):
    return _expression(v, math.exp, lambda x: 1.0 / x, max)


finite = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(finite, min_size=4, max_size=4))
def test_graph_gradients_equal_centred_differences(v):
    a, b, c, d = v
    h = a * b + c
    assume(abs(h - 0.5 * d) > 1e-3)  # away from the max kink (no derivative there)
    leaves = [Value(x) for x in v]
    out = _on_values(leaves)
    out.backward()
    assert out.data == pytest.approx(_on_floats(v), rel=1e-12, abs=1e-12)
    eps = 1e-6
    graph = np.array([leaf.grad for leaf in leaves])
    numeric = np.empty(4)
    for i in range(4):
        plus, minus = list(v), list(v)
        plus[i] += eps
        minus[i] -= eps
        numeric[i] = (_on_floats(plus) - _on_floats(minus)) / (2 * eps)
    rel = np.max(np.abs(graph - numeric)) / max(np.max(np.abs(graph) + np.abs(numeric)), 1e-8)
    assert rel < 1e-7, (graph, numeric, rel)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(finite, min_size=5, max_size=5))
def test_sigmoid_neuron_gradients_equal_closed_form(v):
    w0, x0, w1, x1, w2 = v
    parts = sigmoid_neuron_example(w0, x0, w1, x1, w2)
    s = _closed_form_sigmoid(w0 * x0 + w1 * x1 + w2)
    local = s * (1.0 - s)
    graph = [parts[k].grad for k in ("w0", "x0", "w1", "x1", "w2")]
    expected = [x0 * local, w0 * local, x1 * local, w1 * local, local]
    np.testing.assert_allclose(graph, expected, rtol=1e-10, atol=1e-15)
