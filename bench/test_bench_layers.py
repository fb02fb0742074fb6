"""Per-layer forward + backward through the public API (GradientTape), on each backend."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

# name -> (layer factory, input shape with batch)
LAYERS = {
    "dense128_relu_b32": (lambda k: k.layers.Dense(128, activation="relu"), (32, 784)),
    "dense10_b32": (lambda k: k.layers.Dense(10), (32, 128)),
    "dense1024_relu_b256": (lambda k: k.layers.Dense(1024, activation="relu"), (256, 1024)),
    "conv2d32_3x3_relu_b128": (lambda k: k.layers.Conv2D(32, 3, activation="relu"), (128, 28, 28, 1)),
    "conv2d64_3x3_relu_b128": (lambda k: k.layers.Conv2D(64, 3, activation="relu"), (128, 13, 13, 32)),
    "maxpool2_b128": (lambda k: k.layers.MaxPooling2D(2), (128, 26, 26, 32)),
    "dropout0.5_b128": (lambda k: k.layers.Dropout(0.5), (128, 1600)),
    "flatten_b128": (lambda k: k.layers.Flatten(), (128, 5, 5, 64)),
}
NEEDS = {"conv2d32_3x3_relu_b128": "Conv2D", "conv2d64_3x3_relu_b128": "Conv2D", "maxpool2_b128": "MaxPooling2D"}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_fwd_bwd(benchmark, ops, gk, name):
    if name in NEEDS and not hasattr(gk.layers, NEEDS[name]):
        pytest.skip(f"gpukeras has no {NEEDS[name]} yet")
    make, shape = LAYERS[name]
    layer = make(gk)
    x = gk.Tensor(ops.asarray(np.random.default_rng(0).standard_normal(shape, dtype=np.float32)))
    # Keras 3 drops `training` for layers whose call() lacks it; pass it only where accepted.
    kw = {"training": True} if "training" in inspect.signature(layer.call).parameters else {}
    y0 = layer(x, **kw)
    dy = ops.asarray(np.random.default_rng(1).standard_normal(tuple(y0.shape), dtype=np.float32))
    sources = [x, *layer.trainable_weights]

    def run():
        with gk.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, **kw)
        tape.gradient(y, sources, output_gradients=dy)
        ops.synchronize()

    benchmark(run)
