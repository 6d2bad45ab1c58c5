"""fnn-course reference library: every layer, activation, loss and gradient of the course.

NumPy by default, CuPy optional, and any Array-API namespace (``array_api_strict`` in the tests).
Modules: backend, activations, losses, layers, network, optim, gradcheck, graph, data, widgets.
"""
__version__ = "0.1.0"
