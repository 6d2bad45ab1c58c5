"""The shared message layer (``autograder.cases.messages``) and what it gives every assignment:
wrapped messages and a hint for each NumPy shape error a graded function can raise, in the
assignments whose cases were written before it (``forward_pass``, ``softmax_backward``, which
have their own tests) and in ``backprop`` and ``computational_graphs``."""
from __future__ import annotations


import numpy as np
import pytest

from autograder.cases import messages, misconceptions
from autograder.cases.messages import WIDTH, HintedCase, explain_error, wrap
from autograder.cases.tasks import get_spec
from tests import submissions as subs

ASSIGNMENTS = ("forward_pass", "computational_graphs", "softmax_backward", "backprop")


def _flat(message: str) -> str:
    return message.replace("\n  ", " ")


# --------------------------------------------------------------------------- every assignment
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_case_of_every_assignment_is_hinted_and_wrapped(assignment):
    spec = get_spec(assignment)
    for case in spec.cases:
        assert isinstance(case, HintedCase), (assignment, case.name)
        assert getattr(case.compare, "_wrapped_by_messages", False), case.name


def test_a_hinted_case_wraps_its_messages_once():
    def compare(actual, expected, inputs):
        return False, "x " * 100 + "differs. Hint: look again"

    case = HintedCase("a case", "f", lambda rng: {}, lambda: 0, compare, 1.0, "test_f")
    again = HintedCase("a case", "f", lambda rng: {}, lambda: 0, case.compare, 1.0, "test_f")
    _, message = again.compare(None, None, {})
    lines = message.split("\n")
    assert lines[-1] == "Hint: look again"
    assert all(len(line) <= WIDTH for line in lines)
    assert message == case.compare(None, None, {})[1]


# --------------------------------------------------------------------------- wrap
def test_wrap_is_idempotent_on_a_message_with_a_hint_line():
    text = "loss is 3.2, expected 1.1\nHint: divide by B"
    assert wrap(text) == text
    long = "grads['W2'] differs from the reference: " + "word " * 40 + "\nHint: " + "h " * 60
    out = wrap(long, 12)
    assert all(len(line) <= WIDTH for line in out.split("\n")[1:])
    assert len(out.split("\n")[0]) + 12 <= WIDTH
    assert sum(line.startswith("Hint:") for line in out.split("\n")) == 1


def test_wrap_keeps_numbers_and_index_tuples_whole_and_loses_no_word():
    long = ("dL/dz differs from the reference: max abs error 0.73, worst at index (1, 0) "
            "(example 1 of the batch): got -2.1902171, expected -1.4601447 (6 of 24 entries "
            "off; rtol=1e-06, atol=1e-08). Hint: the loss is the MEAN over the batch: divide by B")
    for indent in range(0, 60, 3):
        out = wrap(long, indent)
        lines = out.split("\n")
        assert lines[-1] == "Hint: the loss is the MEAN over the batch: divide by B"
        assert "expected -1.4601447" in out and "got -2.1902171" in out and "(1, 0)" in out
        assert len(lines[0]) + indent <= WIDTH
        assert " ".join(out.replace("\n  ", " ").replace("\nHint:", " Hint:").split()) == long
    assert wrap("") == ""


def test_wrap_rejects_what_is_not_a_string():
    for bad in (None, b"bytes", 3):
        with pytest.raises(TypeError, match="message must be a str"):
            wrap(bad)


# --------------------------------------------------------------------------- explain_error
@pytest.mark.parametrize("message, expected", [
    ("raised ValueError: matmul: Input operand 1 has a mismatch in its core dimension 0, with "
     "gufunc signature (n?,k),(k,m?)->(n?,m?) (size 4 is different from 6)",
     "here they are 6 and 4, so one factor needs a transpose (.T)"),
    ("raised ValueError: shapes (7,6) and (4,6) not aligned: 6 (dim 1) != 4 (dim 0)",
     "here they are 6 and 4"),
    ("raised ValueError: all the input arrays must have same number of dimensions, but the "
     "array at index 0 has 1 dimension(s)", "b[:, None] (or b.reshape(-1, 1))"),
    ("raised ValueError: all the input array dimensions except for the concatenation axis must "
     "match exactly", "a column of ones for a batch of B examples has shape (B, 1)"),
    ("raised ValueError: operands could not be broadcast together with shapes (7,3) (7,) ",
     "keep the axis with keepdims=True"),
    ("raised ValueError: operands could not be broadcast together with shapes (7,3) (5,) ",
     "NumPy lines up shapes from the right"),
    ("raised ValueError: operands could not be broadcast together with remapped shapes "
     "[original->remapped]: (7,3)->(7,3) (2,5)->(2,5)", "NumPy lines up shapes from the right"),
    ("raised ValueError: matmul: Input operand 0 does not have enough dimensions (has 0, gufunc "
     "core with signature (n?,k),(k,m?)->(n?,m?) requires 1)", "scale by a number with *, not @"),
    ("raised ValueError: cannot reshape array of size 12 into shape (5,)",
     "12 entries cannot take the shape (5,)"),
    ("raised IndexError: too many indices for array: array is 1-dimensional, but 2 were indexed",
     "the array has 1 axis and you index 2"),
    ("raised IndexError: index 5 is out of bounds for axis 1 with size 5",
     "axis 1 has 5 entries (indices 0 to 4)"),
    ("raised ValueError: all the input arrays must have same number of dimensions, but the "
     "array at index 0 has 1 dimension(s) and the array at index 1 has 2 dimension(s)",
     "(the array at index 0 has 1 axis and the one at index 1 has 2): make the 1-D one a column"),
    ("raised AxisError: axis 2 is out of bounds for array of dimension 2",
     "an array with 2 axes has axes 0 to 1 (axis=-1 is the last one)"),
    ("raised AxisError: axis 1 is out of bounds for array of dimension 1",
     "an array with 1 axis has only axis 0"),
    ("raised AxisError: axis 1 is out of bounds for array of dimension 0",
     "the array is a single number (0 axes)"),
    ("raised ValueError: operands could not be broadcast together with shapes (3,5) (5,3) (3,5) ",
     "two of the arrays are each other's transpose, (3, 5) and (5, 3): one of them needs .T"),
    ("raised ValueError: non-broadcastable output operand with shape (3,) doesn't match the "
     "broadcast shape (1,3)", "keeps the shape of a, (3,), but the right-hand side makes it (1,3)"),
    ("raised ValueError: could not broadcast input array from shape (5,) into shape (3,)",
     "a value of shape (5,) cannot be stored in a place of shape (3,)"),
])
def test_each_shape_error_gets_its_hint(message, expected):
    out = explain_error(message, {"X": np.zeros((7, 6))})
    assert out.startswith(message + "\nHint: ")
    assert expected in out
    assert "The inputs are X (7, 6)." in out


def test_the_inputs_named_are_public_and_include_parameter_dicts():
    inputs = {"X": np.zeros((5, 4)), "params": {"W1": np.zeros((3, 4)), "b1": np.zeros(3)},
              "_X_test": np.zeros((9, 4)), "loss": "softmax_ce"}
    shapes = messages.input_shapes(inputs)
    assert shapes == "X (5, 4), params['W1'] (3, 4), params['b1'] (3,)"
    assert messages.input_shapes(None) == "" and messages.input_shapes({3: np.zeros(2)}) == ""


@pytest.mark.parametrize("wrong", [
    lambda x, W, b: 2.0 * x @ W.T + b[:, 0],                      # b is 1-D
    lambda x, W, b: x @ W.T + b.reshape(x.shape[0], -1),          # b reshaped to the batch
    lambda x, W, b: np.stack([x[i] @ W.T for i in range(x.shape[0] + 1)]) + b,  # one too far
    lambda x, W, b: x @ W.T + float(b.sum()) @ np.ones_like(b),   # a number in @
])
def test_the_index_and_reshape_mistakes_of_a_layer_get_a_hint(wrong):
    """Each wrong affine_forward raises from NumPy; the in-notebook check explains it."""
    message = _flat(subs.check_failure("forward_pass", "affine_forward", wrong))
    assert "Hint: " in message, message
    assert ("has 1 axis and you index 2" in message or "a reshape keeps every entry" in message
            or "has 7 entries (indices 0 to 6)" in message or "scale by a number with *" in message)


def test_other_errors_are_left_alone():
    for message in ("raised ZeroDivisionError: division by zero",
                    "raised KeyError: 'W3'", "", "returned None"):
        assert explain_error(message, {}) == message
    with pytest.raises(TypeError, match="message must be a str"):
        explain_error(None, {})


# --------------------------------------------------------------------------- backprop
def _relu(z):
    return np.maximum(z, 0.0)


def _transposed_first_layer(X, Y, params, activations, loss):
    return X @ params["W1"]  # W1 is (n_1, n_0): the product needs W1.T


def _column_product_transposed(x, y, params, activations, loss):
    return params["W1"].T @ x


def _loss_without_keepdims(X, Y, params, activations, loss):
    a = X
    for layer in range(1, len(activations) + 1):
        a = _relu(a @ params[f"W{layer}"].T + params[f"b{layer}"])
    z = a @ params[f"W{len(activations) + 1}"].T + params[f"b{len(activations) + 1}"]
    shifted = z - z.max(axis=1)  # (B, C) - (B,): the axis was dropped
    return float(np.mean(-np.sum(Y * (shifted - np.log(np.exp(shifted).sum(axis=1))), axis=1)))


@pytest.mark.parametrize("function, wrong, hint", [
    ("backprop", _transposed_first_layer, "Hint: a matrix product A @ B needs the last size"),
    ("network_loss", _transposed_first_layer, "Hint: a matrix product A @ B needs the last size"),
    ("backprop_example", _column_product_transposed,
     "Hint: a matrix product A @ B needs the last size"),
    ("network_loss", _loss_without_keepdims, "keep the axis with keepdims=True"),
])
def test_backprop_explains_the_shape_errors_a_student_raises(function, wrong, hint):
    message = subs.check_failure("backprop", function, wrong, student_id="alice")
    flat = _flat(message)
    assert hint in flat, message
    assert "(called with X (" in flat or "(called with x (" in flat, message
    assert "params {W1: (" in flat and "The inputs are" not in flat, message  # named once
    assert all(len(line) <= WIDTH for line in message.split("\n")[1:]), message


def test_backprop_gradient_hints_are_wrapped_and_still_recognised():
    """A wrong dW (the mean forgotten) gets its hint on a line of its own, at most WIDTH wide,
    and the class report still recognises it."""
    import sys

    module = sys.modules["fnn_assignment_backprop"]
    case = get_spec("backprop").cases_for(function="backprop", hidden=False)[0]
    inputs = case.inputs_for(np.random.default_rng(3), None)
    expected = case.reference(**inputs)
    wrong = module.mistaken_grads(inputs["X"], inputs["Y"], inputs["params"],
                                  inputs["activations"], inputs["loss"], mistake="no_mean")
    credit, message = case.compare(wrong, expected, inputs)
    assert not credit
    lines = message.split("\n")
    assert any(line.startswith("Hint: ") for line in lines), message
    assert all(len(line) <= WIDTH for line in lines[1:]), message
    assert "missing_mean" in misconceptions.recognise(message), message


# --------------------------------------------------------------------------- computational graphs
def test_computational_graph_messages_fit_the_width():
    message = subs.check_failure("computational_graphs", "add_mul_by_hand",
                       lambda x, y, z: {"q": x + y, "f": (x + y) * z, "df_dq": x + y,
                                        "df_dz": z, "df_dx": z, "df_dy": z})
    assert "Hint:" in message, message
    assert all(len(line) <= WIDTH for line in message.split("\n")[2:]), message
