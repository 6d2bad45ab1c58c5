"""The typical mistakes that the checks recognise, and where the lectures explain them.

Every comparison in :mod:`autograder.cases.compare` and ``autograder/cases/tasks/*.py`` ends a
failure message with a hint when the answer matches a typical wrong answer ("transposed?",
"did you forget to add the bias b?", "the loss is the MEAN over the batch: divide by B", ...),
and so do the case modules of the assignments (``assignments/<name>/cases.py``).
:data:`MISCONCEPTIONS` lists those hints once more, each with a short label for the class report
and the lecture section to send the class to. :func:`recognise` finds them in a message.

A hint is recognised only where the checks put it: at the end of a line of the message (or
before the computational-graph checks' ``". Where: ..."``), after ``": "`` or ``"Hint: "`` (a
line continued on an indented line is joined with it first). Text a student controls inside a
message (a dict key, an exception text) sits elsewhere in the line, so it cannot easily pose as
a hint; the class report counts only cases with status ``"failed"``, whose messages come from
the comparisons.

When a hint's wording changes in a comparison, change its pattern here too: the tests produce
every hint with the real comparisons and check that this table recognises it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Misconception:
    """One recognised mistake.

    Attributes
    ----------
    id : short stable identifier, e.g. ``"forgot_bias"``.
    label : what the class report shows, e.g. ``"forgot the bias"``.
    pattern : regular expression of the hint text (matched at the end of a message line, or
        just before ``". Where: "`` / ``". The graph: "``).
    lecture : lecture notebook, relative to the course root, e.g.
        ``"lectures/03_forward_pass.ipynb"``.
    heading : the heading of the section that explains it, without the leading ``#``.
    """

    id: str
    label: str
    pattern: str
    lecture: str
    heading: str

    @property
    def regex(self) -> re.Pattern:
        """The compiled pattern: the hint after ``": "``/``"Hint: "`` at the end of a line."""
        return _compiled(self.pattern)

    @property
    def anchor(self) -> str:
        """The heading's anchor as JupyterLab makes it (spaces become ``-``), URL-quoted."""
        return quote(self.heading.replace(" ", "-"), safe="-.,_()")

    def matches(self, message: str) -> bool:
        """Whether ``message`` (a case record's message) ends a line with this hint."""
        return bool(self.regex.search(message))


_CACHE: dict[str, re.Pattern] = {}
_CONTINUATION = re.compile(r"\n[ \t]+")
_FOLLOWS = r"(?:Where|The graph): "
"""What may follow a hint on its line: the computational-graph checks go on with where the
mistake is and the graph itself."""


def _compiled(pattern: str) -> re.Pattern:
    if pattern not in _CACHE:
        _CACHE[pattern] = re.compile(rf"(?:: |Hint: )(?:{pattern})(?:\.?$|\. {_FOLLOWS})",
                                     re.MULTILINE)
    return _CACHE[pattern]


L01 = "lectures/01_perceptron_to_deep_fnn.ipynb"
L02 = "lectures/02_computational_graphs.ipynb"
L03 = "lectures/03_forward_pass.ipynb"
L04 = "lectures/04_activations.ipynb"
L05 = "lectures/05_losses.ipynb"
L06 = "lectures/06_softmax.ipynb"
L07 = "lectures/07_vector_calculus_and_layouts.ipynb"
L08 = "lectures/08_backpropagation.ipynb"
L09 = "lectures/09_training.ipynb"

MISCONCEPTIONS: tuple[Misconception, ...] = (
    Misconception("gate_rules", "add and mul gates: local gradients and the chain rule",
                  r"the mul gate swaps: [^\n]*?|the add gate's local gradient is 1, [^\n]*?"
                  r"|x \+ y is an add gate: [^\n]*?"
                  r"|chain rule: multiply the mul gate's local gradient by the upstream df/dz",
                  L02, "3. A first graph: $f(x, y, z) = (x + y)\\,z$"),
    Misconception("sigmoid_local", "local gradient of the sigmoid gate",
                  r"the sigmoid's local gradient is s \(1 - s\), not s"
                  r"|sigma'\(z\) = s \(1 - s\) with s = sigma\(z\), [^\n]*?"
                  r"|d/dz of 1 / \(1 \+ e\^\(-z\)\) is [^\n]*?",
                  L02, "4. The sigmoid neuron, gate by gate"),
    Misconception("local_gradient", "wrong local gradient of an operation in a graph",
                  r"(?:mul|pow|exp|log|relu|sigmoid|tanh): [^\n]*?|max routes [^\n]*?",
                  L02, "6. Patterns in gradient flow"),
    Misconception("accumulate", "gradients of a shared node assigned instead of summed",
                  r"gradients are assigned \(=\) where they must be accumulated \(\+=\): [^\n]*?",
                  L02, "6. Patterns in gradient flow"),
    Misconception("topological_order", "backward sweep not in reverse topological order",
                  r"backward must visit the nodes in REVERSE topological order [^\n]*?"
                  r"|a breadth-first sweep from the output is not a topological order: [^\n]*?"
                  r"|recursing from the output without a topological order [^\n]*?"
                  r"|your topological order lists a shared node more than once [^\n]*?",
                  L02, "5. A tiny automatic-differentiation engine"),
    Misconception("no_seed", "backward sweep not seeded with d(out)/d(out) = 1",
                  r"seed d\(out\)/d\(out\) = 1 before the backward sweep",
                  L02, "5. A tiny automatic-differentiation engine"),
    Misconception("transposed", "transposed result (W or dW in the other layout)",
                  r"(?:the right sizes in the wrong order: )?transposed\?",
                  L07, "4. The affine case, in three layouts"),
    Misconception("batch_axis", "lost or kept the batch axis",
                  r"it (?:lost|kept) the batch axis: [^\n]*",
                  L03, "6. From one example to a batch: one affine layer"),
    Misconception("unit_axis", "extra or missing axis of length 1 (reshape / keepdims)",
                  r"an extra or missing axis of length 1: check reshape / keepdims",
                  L03, "6. From one example to a batch: one affine layer"),
    Misconception("forgot_bias", "forgot the bias",
                  r"did you forget to add the bias b\?",
                  L03, "6. From one example to a batch: one affine layer"),
    Misconception("uncounted_biases", "did not count the biases as parameters",
                  r"did you forget the biases \(weights of the dummy inputs\)\?",
                  L03, "4. The bias as the weight of a dummy input (deck 000)"),
    Misconception("bias_column", "bias taken from the wrong column of W_tilde",
                  r"the bias is the FIRST column of W_tilde [^\n]*",
                  L03, "4. The bias as the weight of a dummy input (deck 000)"),
    Misconception("relu_not_max", "ReLU as |z| or as its derivative",
                  r"relu\(z\) = max\(z, 0\) keeps 0 for negative z \(not \|z\|\)"
                  r"|that is the derivative; relu returns max\(z, 0\)",
                  L04, "2.3 ReLU, leaky ReLU, ELU"),
    Misconception("sigmoid_overflow", "sigmoid overflow for large |z|",
                  r"sigmoid must be finite for \|z\| ~ 1000: [^\n]*",
                  L04, "2.1 Sigmoid"),
    Misconception("sigmoid_sign", "sigmoid with exp(+z) (sign error)",
                  r"sign: sigmoid\(z\) = 1 / \(1 \+ exp\(-z\)\)",
                  L04, "2.1 Sigmoid"),
    Misconception("output_activation", "wrong output activation (sigmoid missing or ReLU)",
                  r"did you forget the sigmoid on the output layer\?"
                  r"|the output layer uses a sigmoid, not ReLU",
                  L01, "5. The fix: a sigmoid output, read as a probability"),
    Misconception("softmax_axis", "softmax normalised over the wrong axis",
                  r"normalise each ROW \(one example per row\): [^\n]*"
                  r"|normalise each row separately, not the whole batch at once",
                  L06, "2. The softmax"),
    Misconception("softmax_overflow", "softmax overflow (no max shift)",
                  r"output contains NaN/inf for logits of 1000: subtract the max [^\n]*",
                  L06, "5. Numerical stability: max shift and log-sum-exp"),
    Misconception("jacobian", "softmax Jacobian with a wrong diagonal or off-diagonal",
                  r"the diagonal needs the extra y_i: [^\n]*"
                  r"|off-diagonal entries are -y_i y_j, not 0",
                  L06, "3. The Jacobian of the softmax"),
    Misconception("vjp_axis", "J^T g summed over the batch instead of per example",
                  r"sum g \* y per example \(axis=1, keepdims=True\), not over the batch",
                  L06, "4. Backward through a vector activation: $J^\\mathsf{T}\\bar y$"),
    Misconception("vjp_term", "J^T g without the -sum_k g_k y_k term",
                  r"missing the - sum_k g_k y_k term of J\^T g",
                  L06, "4. Backward through a vector activation: $J^\\mathsf{T}\\bar y$"),
    Misconception("gradient_sign", "gradient with the wrong sign",
                  r"sign: dL/d(?:y_hat|z) = [^\n]*|the output delta is y_hat - y, not y - y_hat"
                  r"|\(f\(p \+ eps\) - f\(p - eps\)\) / \(2 eps\): the sign is reversed",
                  L06, "6. Softmax + cross-entropy: the gradient $\\hat y - \\tilde y$"),
    Misconception("output_derivative_twice", "output delta multiplied by the output's derivative",
                  r"the output delta is already y_hat - y for softmax-CE and sigmoid-BCE: [^\n]*",
                  L06, "6. Softmax + cross-entropy: the gradient $\\hat y - \\tilde y$"),
    Misconception("mse_without_2", "derivative of the squared error without the 2",
                  r"the derivative of \(y_hat - y\)\^2 is 2 \(y_hat - y\)",
                  L05, "2.1 Squared error (regression, and deck 000's first attempt)"),
    Misconception("unstable_loss", "loss overflow (not computed stably from the logits)",
                  r"compute it stably from the logits z\^\[L\] [^\n]*",
                  L06, "5. Numerical stability: max shift and log-sum-exp"),
    Misconception("sum_over_units", "per-example loss averaged over the output units",
                  r"the per-example loss SUMS over the output units; only the batch is averaged",
                  L05, "4. The vectorised cost with the Hadamard product (deck 001)"),
    Misconception("missing_mean", "forgot to divide by B (the loss is a mean)",
                  r"the (?:loss|cost) is the MEAN over the batch: divide by B"
                  r"|the cost is the MEAN over the batch of the per-example losses",
                  L08, "3.3 A batch stored as columns: 23a-d and the vectorized cost"),
    Misconception("double_mean", "divided by B twice",
                  r"divided by B twice\? (?:dz|the output delta) already carries the 1/B",
                  L08, "3.3 A batch stored as columns: 23a-d and the vectorized cost"),
    Misconception("no_activation_derivative", "backprop without the activation's derivative",
                  r"did you multiply by g'\(z\) of the layer \(eq\. 21c / 23c\)\?",
                  L08, "3.1 Deriving 21a-d"),
    Misconception("derivative_at_a", "g' taken at a = g(z) instead of at z",
                  r"g' is taken at the pre-activation z, not at a = g\(z\)",
                  L08, "3.1 Deriving 21a-d"),
    Misconception("one_sided", "one-sided difference instead of a centred one",
                  r"that is a one-sided difference; [^\n]*"
                  r"|(?:close but not equal: )?a one-sided difference [^\n]*",
                  L02, "How good is a finite difference?"),
    Misconception("half_step", "centred difference divided by h instead of 2h",
                  r"divide by 2 h, not h|a centred difference divides by 2 eps, not eps",
                  L02, "How good is a finite difference?"),
    Misconception("perturbation", "finite differences: one entry at a time, each restored",
                  r"change one entry at a time, restore it before the next, [^\n]*"
                  r"|put every entry back to its old value before you change the next one",
                  L08, "6. Gradient checking a whole network"),
    Misconception("python_loop", "backprop not vectorized (a Python loop over examples)",
                  r"this looks like a Python loop over examples; [^\n]*",
                  L08, "5. Independent checks, and why we vectorize"),
    Misconception("ascent", "stepped along the gradient instead of against it",
                  r"step AGAINST the gradient: params - lr \* grads",
                  L09, "1. Gradient descent and its traditional problems"),
    Misconception("diverged", "training diverged (learning rate too large?)",
                  r"was the learning rate too large\?",
                  L09, "5. The learning rate"),
)
"""Every recognised mistake, in the order the class report lists ties."""

BY_ID = {m.id: m for m in MISCONCEPTIONS}


def recognise(message) -> list[str]:
    """Ids of the misconceptions whose hint ends a line of ``message`` (table order).

    Parameters
    ----------
    message : a case record's message (str); anything else gives ``[]``.

    Returns
    -------
    list of str, e.g. ``["transposed", "missing_mean"]``.
    """
    if type(message) is not str or not message:
        return []
    message = _CONTINUATION.sub(" ", message)  # a hint wrapped over indented lines
    return [m.id for m in MISCONCEPTIONS if m.matches(message)]
