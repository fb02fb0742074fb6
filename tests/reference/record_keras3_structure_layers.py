"""Record Keras 3's numbers for the structure layers, keras.random and clone_model of issue 12 (JAX).

The layers and models come from tests/reference/structure_layer_cases.py, shared with
tests/test_keras3_structure_layers.py, which replays everything with `import gpukeras as keras`:

  layers       per layer: inputs, weights (set from RandomState), forward output, the gradients of
               sum(output * upstream) for the inputs and the weights (jax.grad over stateless_call),
               weight names and shapes, get_config(), activity losses
  masked       merges and mask-passing layers on masked inputs: output and output mask
  invalid      the exception type each refused constructor argument or call raises
  training     small models using every deterministic layer: initial weights, 3 epochs of SGD(0.1)
               (batch 8, shuffle=False): loss history, final weights, predictions
  random       keras.random's seeding rules and SeedGenerator's state (values differ by backend)
  random_layers  what the seeded regularization layers do in training (facts, not values)
  clone        clone_model on functional, Sequential, nested and subclassed models; Model.get_layer
  lambda_named the config Keras 3 writes for a Lambda over a named function (and its model)

How to run (from the repository root, with the side venv holding Keras 3 and JAX)::

    KERAS_BACKEND=jax /tmp/k3venv/bin/python tests/reference/record_keras3_structure_layers.py

Output: tests/fixtures/keras3_structure_layers.json (one top-level entry per line).
"""

import datetime
import json
import os
import sys
import warnings

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import structure_layer_cases as cases  # noqa: E402
from keras.src.backend.common.masking import get_keras_mask, set_keras_mask  # noqa: E402

OUT_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures",
                        "keras3_structure_layers.json")
F32 = np.float32


def f32list(a):
    return np.asarray(a, dtype=F32).tolist()


def plain(value):
    """A JSON-ready copy (tuples as lists, NumPy scalars as numbers)."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v)))


def as_list(shapes):
    return shapes if isinstance(shapes, list) else [shapes]


def make_inputs(shapes, seed):
    rs = np.random.RandomState(seed)
    return [rs.normal(size=s).astype(F32) for s in as_list(shapes)]


def masks():
    rs = np.random.RandomState(77)
    out = {}
    for name in ("mask_a", "mask_b", "mask_c"):
        m = rs.random_sample((4, 3)) > 0.4
        m[:, 0] = True  # every sample keeps a step
        out[name] = m
    out["mask_a"][1] = [True, False, False]
    out["mask_b"][1] = [False, False, True]
    softmax = rs.random_sample((4, 1, 5)) > 0.3
    softmax[0] = False  # a fully masked row gets all-zero probabilities
    out["softmax_mask"] = softmax
    return out


def set_layer_weights(layer, seed):
    rs = np.random.RandomState(seed)
    values = [rs.uniform(-0.8, 0.8, size=v.shape).astype(F32) for v in layer.weights]
    layer.set_weights(values)
    return values


def record_layer(name, factory, shapes, call_kwargs, seed, mask_values):
    layer = factory(keras)
    inputs = make_inputs(shapes, seed)
    arg = inputs if isinstance(shapes, list) else inputs[0]
    kwargs = {k: (mask_values[v] if k == "mask" else v) for k, v in call_kwargs.items()}
    layer(arg, **kwargs)  # build
    weights = set_layer_weights(layer, seed + 1000)
    out = keras.ops.convert_to_numpy(layer(arg, **kwargs))
    upstream = np.random.RandomState(seed + 2000).normal(size=out.shape).astype(F32)

    trainable = [v.value for v in layer.trainable_variables]
    frozen = [v.value for v in layer.non_trainable_variables]

    def objective(tv, xs):
        y, _ = layer.stateless_call(tv, frozen, xs if isinstance(shapes, list) else xs[0], **kwargs)
        return jnp.sum(y * upstream)

    g_weights, g_inputs = jax.grad(objective, argnums=(0, 1))(trainable, [jnp.asarray(x) for x in inputs])
    entry = {
        "inputs": [f32list(x) for x in inputs],
        "list_input": isinstance(shapes, list),
        "weights": [f32list(w) for w in weights],
        "weight_names": [v.name for v in layer.weights],
        "weight_shapes": [list(v.shape) for v in layer.weights],
        "trainable_weight_names": [v.name for v in layer.trainable_weights],
        "config": plain(layer.get_config()),
        "output": f32list(out),
        "upstream": f32list(upstream),
        "grad_inputs": [f32list(g) for g in g_inputs],
        "grad_weights": [f32list(g) for g in g_weights],
        "losses": [float(keras.ops.convert_to_numpy(v)) for v in layer.losses],
    }
    return entry


def record_masked(name, factory, shapes, mask_names, seed, mask_values):
    layer = factory(keras)
    inputs = [keras.ops.convert_to_tensor(x) for x in make_inputs(shapes, seed)]
    for x, m in zip(inputs, mask_names):
        if m is not None:
            set_keras_mask(x, keras.ops.convert_to_tensor(mask_values[m]))
    arg = inputs if len(inputs) > 1 else inputs[0]
    layer(arg)
    set_layer_weights(layer, seed + 1000)
    out = layer(arg)
    mask = get_keras_mask(out)
    return {
        "inputs": [f32list(x) for x in inputs],
        "masks": list(mask_names),
        "weights": [f32list(w) for w in layer.get_weights()],
        "output": f32list(keras.ops.convert_to_numpy(out)),
        "output_mask": None if mask is None else np.asarray(mask).tolist(),
    }


def error_of(fn):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except Exception as exc:  # noqa: BLE001 - recorded, not handled
        return {"error": type(exc).__name__, "message": str(exc)[:300]}
    return None


def training_data():
    rs = np.random.RandomState(123)
    data = {name: rs.normal(size=shape).astype(F32) for name, shape in cases.TRAINING_DATA.items()}
    data["y3"] = np.eye(3, dtype=F32)[rs.randint(0, 3, size=16)]
    return data


def record_training(data):
    out = {}
    for i, (name, (model, xs, y, loss)) in enumerate(cases.training_models(keras).items()):
        rs = np.random.RandomState(500 + i)
        init = [rs.uniform(-0.5, 0.5, size=w.shape).astype(F32) for w in model.get_weights()]
        model.set_weights(init)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=loss)
        x = [data[n] for n in xs] if len(xs) > 1 else data[xs[0]]
        hist = model.fit(x, data[y], batch_size=8, epochs=3, shuffle=False, verbose=0)
        out[name] = {
            "initial_weights": [f32list(w) for w in init],
            "weight_names": [v.path for v in model.weights],
            "history": [float(v) for v in hist.history["loss"]],
            "final_weights": [f32list(w) for w in model.get_weights()],
            "predictions": f32list(model.predict(x, verbose=0)),
        }
    return out


def record_random():
    r = keras.random
    out = {}
    gen = r.SeedGenerator(1337)
    states = [np.asarray(gen.state.value).tolist()]
    r.normal((2, 3), seed=gen)
    states.append(np.asarray(gen.state.value).tolist())
    r.uniform((2,), seed=gen)
    r.dropout(np.ones((2, 2), F32), 0.5, seed=gen)
    states.append(np.asarray(gen.state.value).tolist())
    out["seed_generator_states"] = states
    out["seed_generator_config"] = gen.get_config()
    same = np.array_equal(r.normal((5,), seed=7), r.normal((5,), seed=7))
    out["int_seed_repeats"] = bool(same)
    g = r.SeedGenerator(3)
    out["seed_generator_advances"] = not np.array_equal(r.normal((5,), seed=g), r.normal((5,), seed=g))
    g1, g2 = r.SeedGenerator(11), r.SeedGenerator(11)
    out["same_seed_same_sequence"] = all(np.array_equal(r.uniform((4,), seed=g1), r.uniform((4,), seed=g2))
                                         for _ in range(3))
    out["dtypes"] = {
        "normal": str(r.normal((2,), seed=1).dtype),
        "uniform": str(r.uniform((2,), seed=1).dtype),
        "truncated_normal": str(r.truncated_normal((2,), seed=1).dtype),
        "normal_float64": str(r.normal((2,), dtype="float64", seed=1).dtype),
        "randint": str(r.randint((2,), 0, 5, seed=1).dtype),
        "categorical": str(r.categorical(np.zeros((2, 3), F32), 4, seed=1).dtype),
        "shuffle_int": str(r.shuffle(np.arange(6, dtype="int32"), seed=1).dtype),
    }
    out["shapes"] = {
        "categorical": list(r.categorical(np.zeros((2, 3), F32), 4, seed=1).shape),
        "dropout_noise_shape": list(r.dropout(np.ones((2, 3, 4), F32), 0.5, noise_shape=(2, 1, 4), seed=1).shape),
    }
    col = np.repeat(np.arange(50, dtype=F32)[:, None], 2, axis=1)
    shuffled = np.asarray(r.shuffle(col, axis=0, seed=9))
    out["shuffle_columns_independent"] = bool(not np.array_equal(shuffled[:, 0], shuffled[:, 1]))
    out["shuffle_keeps_values"] = bool(np.array_equal(np.sort(shuffled[:, 0]), np.arange(50)))
    d = np.asarray(r.dropout(np.ones((4, 3, 6), F32), 0.5, noise_shape=(4, 1, 6), seed=3))
    out["dropout_noise_shape_shared"] = bool(np.all(d == d[:, :1, :]))
    out["dropout_values"] = sorted({float(v) for v in np.unique(d)})
    t = np.asarray(r.truncated_normal((20000,), mean=1.0, stddev=2.0, seed=4))
    out["truncated_normal_range"] = [float(t.min()), float(t.max())]
    k = np.asarray(r.categorical(np.log(np.array([[0.0, 1.0, 0.0]], F32) + 1e-30), 20, seed=5))
    out["categorical_certain"] = k.tolist()
    return out


def record_random_layers():
    out = {}
    x = np.ones((64, 32), F32)
    for name, make in {
        "gaussian_noise": lambda: keras.layers.GaussianNoise(0.5, seed=21),
        "gaussian_dropout": lambda: keras.layers.GaussianDropout(0.5, seed=22),
        "alpha_dropout": lambda: keras.layers.AlphaDropout(0.5, seed=23),
    }.items():
        a, b = make(), make()
        first, again = np.asarray(a(x, training=True)), np.asarray(a(x, training=True))
        out[name] = {
            "new_draw_each_call": bool(not np.array_equal(first, again)),
            "same_seed_same_first_draw": bool(np.array_equal(first, np.asarray(b(x, training=True)))),
            "inference_identity": bool(np.array_equal(np.asarray(a(x, training=False)), x)),
            "variables": [v.name for v in a.variables],
            "weights": [v.name for v in a.weights],
        }
    return out


def record_clone():
    out = {}
    src = cases.clone_sources(keras)
    functional, sequential, nested = src["functional"], src["sequential"], src["nested"]
    clone = keras.models.clone_model(functional)
    x = np.random.RandomState(5).normal(size=(3, 4)).astype(F32)
    fresh_differs = any(not np.allclose(a, b) for a, b in zip(clone.get_weights(), functional.get_weights()))
    clone.set_weights(functional.get_weights())
    out["functional"] = {
        "name": clone.name,
        "class": type(clone).__name__,
        "layers": [[type(layer).__name__, layer.name] for layer in clone.layers],
        "configs_equal": [plain(a.get_config()) == plain(b.get_config())
                          for a, b in zip(clone.layers, functional.layers)],
        "shares_no_layer": all(a is not b for a, b in zip(clone.layers, functional.layers)),
        "weights": len(clone.weights),
        "fresh_weights_differ": bool(fresh_differs),
        "same_predictions_with_same_weights": bool(np.allclose(clone.predict(x, verbose=0),
                                                               functional.predict(x, verbose=0))),
        "compiled": bool(clone.compiled),
        "compile_loss": clone.get_compile_config()["loss"] if clone.compiled else None,
        "input_names": [t.name for t in clone.inputs],
    }
    clone = keras.models.clone_model(sequential)
    out["sequential"] = {
        "name": clone.name,
        "layers": [[type(layer).__name__, layer.name] for layer in clone.layers],
        "input_shape": list(clone.inputs[0].shape),
        "configs_equal": [plain(a.get_config()) == plain(b.get_config())
                          for a, b in zip(clone.layers, sequential.layers)],
        "compiled": bool(clone.compiled),
    }

    def seed_everything(layer):
        config = layer.get_config()
        if "seed" in config:
            config["seed"] = 1337
        return layer.__class__.from_config(config)

    clone = keras.models.clone_model(sequential, clone_function=seed_everything)
    out["clone_function_seed"] = {"seeds": [layer.get_config().get("seed") for layer in clone.layers]}
    clone = keras.models.clone_model(functional, clone_function=lambda layer: layer,
                                     call_function=cases.insert_dropout_after_dense(keras))
    out["call_function"] = {
        "layers": [type(layer).__name__ for layer in clone.layers],
        "reuses_layers": [any(layer is other for other in functional.layers) for layer in clone.layers],
        "output_shape": list(clone.outputs[0].shape),
    }
    for recursive in (False, True):
        clone = keras.models.clone_model(nested, recursive=recursive)
        inner = [layer for layer in clone.layers if isinstance(layer, keras.Sequential)][0]
        out[f"nested_recursive_{recursive}"] = {
            "layers": [[type(layer).__name__, layer.name] for layer in clone.layers],
            "inner_layers": [[type(layer).__name__, layer.name] for layer in inner.layers],
            "inner_is_new": inner is not nested.layers[2],
            "inner_weights_new": all(a is not b for a, b in zip(inner.weights, nested.layers[2].weights)),
        }
    new_input = keras.Input((4,), name="renamed")
    clone = keras.models.clone_model(functional, input_tensors=new_input)
    out["input_tensors"] = {"input_names": [t.name for t in clone.inputs], "layers": len(clone.layers)}

    two_dense = cases.subclassed_model_class(keras)
    original = two_dense(units=4, name="two_dense")
    original(x)
    clone = keras.models.clone_model(original)
    out["subclassed"] = {
        "class": type(clone).__name__,
        "name": clone.name,
        "units": clone.units,
        "built": bool(clone.built),
        "weights": len(clone.weights),
        "weights_shapes": [list(w.shape) for w in clone.weights],
    }
    out["errors"] = {
        "sequential_call_function": error_of(lambda: keras.models.clone_model(sequential,
                                                                              call_function=lambda l, *a: l(*a))),
        "subclassed_clone_function": error_of(lambda: keras.models.clone_model(original,
                                                                               clone_function=lambda l: l)),
        "subclassed_call_function": error_of(lambda: keras.models.clone_model(original,
                                                                              call_function=lambda l, *a: l(*a))),
        "unknown_argument": error_of(lambda: keras.models.clone_model(sequential, bogus=1)),
        "two_input_tensors_sequential": error_of(lambda: keras.models.clone_model(
            sequential, input_tensors=[keras.Input((4,)), keras.Input((4,))])),
    }
    out["get_layer"] = {
        "by_index": functional.get_layer(index=1).name,
        "by_name": type(functional.get_layer("shared")).__name__,
        "neither": error_of(lambda: functional.get_layer()),
        "both": error_of(lambda: functional.get_layer(name="shared", index=1)),
        "missing": error_of(lambda: functional.get_layer("nope")),
        "index_too_big": error_of(lambda: functional.get_layer(index=10)),
    }
    return out


def main():
    keras.utils.set_random_seed(1234)
    mask_values = masks()
    result = {
        "versions": {"keras": keras.__version__, "keras_backend": keras.backend.backend(), "jax": jax.__version__,
                     "numpy": np.__version__},
        "recorded_on": datetime.date.today().isoformat(),
        "masks": {k: v.tolist() for k, v in mask_values.items()},
    }
    result["layers"] = {name: record_layer(name, factory, shapes, call_kwargs, 10 + i, mask_values)
                        for i, (name, (factory, shapes, call_kwargs)) in enumerate(cases.layer_cases().items())}
    result["masked"] = {name: record_masked(name, factory, shapes, names, 300 + i, mask_values)
                        for i, (name, (factory, shapes, names)) in enumerate(cases.masked_cases().items())}
    result["invalid"] = {name: error_of(lambda fn=fn: fn(keras)) for name, fn in cases.invalid_arguments().items()}
    data = training_data()
    result["training_data"] = {name: f32list(v) for name, v in data.items()}
    result["training"] = record_training(data)
    result["random"] = record_random()
    result["random_layers"] = record_random_layers()
    result["clone"] = record_clone()
    named = keras.layers.Lambda(cases.double_plus_one, output_shape=(5,))
    model = keras.Sequential([keras.Input((5,)), named])
    result["lambda_named"] = {"config": plain(named.get_config()), "model_config": json.loads(model.to_json())}
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write("{\n")
        items = list(result.items())
        for i, (key, val) in enumerate(items):
            f.write(json.dumps(key) + ": " + json.dumps(plain(val)) + ("," if i < len(items) - 1 else "") + "\n")
        f.write("}\n")
    print("wrote", OUT_PATH)


if __name__ == "__main__":
    main()
