"""fnn-course reference library: every layer, activation, loss and gradient of the course.

NumPy by default, CuPy optional, and any Array-API namespace (``array_api_strict`` in the tests).
Modules: backend, validation, activations, losses, layers, network, optim, gradcheck, graph, data,
widgets. Data arguments (X, y, predictions, logits) may be arrays or array-likes such as lists and
pandas objects; bad input raises a ``ValueError`` or ``TypeError`` that names the argument (see
``course.validation``).
"""
__version__ = "0.1.0"
