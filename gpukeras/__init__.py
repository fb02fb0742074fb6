"""gpukeras: the Keras API on a swappable backend (CuPy on NVIDIA GPUs, NumPy on CPUs).

`import gpukeras as keras` runs Keras programs: Sequential/functional/subclassed models,
compile/fit/evaluate/predict, callbacks, GradientTape custom loops.
"""

from gpukeras import (
    activations,
    applications,
    backend,
    callbacks,
    config,
    constraints,
    datasets,
    distribution,
    dtype_policies,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    preprocessing,
    random,
    regularizers,
    saving,
    utils,
)
from gpukeras.autodiff import GradientTape
from gpukeras.layers import Input, InputLayer, Layer
from gpukeras.models import Model, Sequential
from gpukeras.tensor import Tensor, Variable
from gpukeras.version import __version__

__all__ = [
    "GradientTape", "Input", "InputLayer", "Layer", "Model", "Sequential", "Tensor", "Variable",
    "activations", "applications", "backend", "callbacks", "config", "constraints", "datasets", "distribution",
    "dtype_policies", "initializers", "layers", "losses", "metrics", "mixed_precision", "models", "ops", "optimizers",
    "preprocessing", "random", "regularizers", "saving", "utils",
]
