"""keras.random: seeded random draws made by the backend, SeedGenerator, and gpukeras's global seed.

Keras 3's seeding rules: an int `seed` gives the same numbers on every call; a `SeedGenerator`
gives new numbers on every draw (its state `[seed, counter]` advances each time); `seed=None`
uses a global SeedGenerator. Each draw turns its two state words into the seed of the backend's
own generator (NumPy's on the host, CuPy's on the device), so the numbers are made where the
arrays live; they differ between backends, as Keras's do between JAX, TensorFlow and PyTorch.

The host generator (`generator()`, `SeedGenerator.rng`) still feeds initializers (the same seed
gives the same weights on every backend), dropout masks and shuffling; `set_seed` reseeds it all.
"""

from __future__ import annotations

import random as _py_random
from collections.abc import Sequence
from typing import Any

import numpy as np

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.naming import to_snake_case
from gpukeras.tensor import Tensor
from gpukeras.tracing import fresh

_generator = np.random.default_rng()
_UINT32 = 0xFFFFFFFF


def set_seed(seed: int) -> None:
    """Reseed gpukeras's generator, Python's `random`, NumPy's legacy global state and the global
    SeedGenerator behind `seed=None` draws."""
    global _generator, _global_seed_generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"The random seed must be an int, got {seed!r}.")
    _generator = np.random.default_rng(int(seed))
    _py_random.seed(int(seed))
    np.random.seed(int(seed) % (2**32))
    _global_seed_generator = None


def generator(seed: int | None = None) -> np.random.Generator:
    """A host generator for one use: seeded from `seed` when given, else the global stream."""
    return _generator if seed is None else np.random.default_rng(seed)


# ---------------------------------------------------------------------- SeedGenerator
_name_counts: dict[str, int] = {}
_backend.on_clear_session(_name_counts.clear)


def _auto_name(prefix: str) -> str:
    n = _name_counts.get(prefix, 0)
    _name_counts[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


class SeedGenerator:
    """A stream of seeds owned by one layer or model: every draw that uses it gets new numbers.

    `state` is `[seed, counter]`; `next()` returns it and advances the counter (Keras 3's rule), so
    two generators with the same seed give the same sequence of draws. The state is kept on the
    host: drawing never waits for the device. `rng` is a host generator seeded the same way, for
    the layers that draw dropout masks through `ops.dropout`.
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any):
        if kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments: {sorted(kwargs)}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"SeedGenerator: argument `seed` must be an integer, got seed={seed!r}.")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"SeedGenerator: `name` must be a string, got {name!r}.")
        self.name = name or _auto_name(to_snake_case(type(self).__name__))
        self.seed = seed  # as given (None stays None): what get_config writes
        value = int(seed) if seed is not None else int(_generator.integers(2**31))
        self.rng = np.random.default_rng(value)
        self._state = [value & _UINT32, 0]

    @property
    def state(self) -> Tensor:
        """The current `[seed, counter]` as a uint32 tensor (a copy: use `next()` to advance it)."""
        return Tensor(_backend.active.asarray(np.array(self._state, dtype=np.uint32)))

    def next(self, ordered: bool = True) -> tuple[int, int]:
        """The current state; then advance it (ordered: counter + 1, else Keras's scrambled step)."""
        current = (self._state[0], self._state[1])
        if ordered:
            self._state[1] = (self._state[1] + 1) & _UINT32
        else:
            self._state = [(v + 1) * 5387 % 933199 for v in self._state]
        return current

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SeedGenerator:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<SeedGenerator name={self.name}, seed={self.seed}>"


_global_seed_generator: SeedGenerator | None = None


def global_seed_generator() -> SeedGenerator:
    """The SeedGenerator behind `seed=None` draws (a new one after each `set_seed`)."""
    global _global_seed_generator
    if _global_seed_generator is None:
        _global_seed_generator = SeedGenerator(name="global_seed_generator")
    return _global_seed_generator


def draw_seed(seed: Any) -> tuple[int, int]:
    """The two state words one draw uses: a SeedGenerator advances, an int is `(seed, 0)` every time."""
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed) & _UINT32, 0
    if seed is None:
        return global_seed_generator().next(ordered=False)
    raise ValueError("Argument `seed` must be either an integer or an instance of `SeedGenerator`. "
                     f"Received: seed={seed!r} (of type {type(seed)})")


def _fresh_seed(seed: Any) -> list[int]:
    """The backend seed of one draw from `seed`; a compiled step draws it again at every replay (advancing
    the SeedGenerator exactly as the eager step does)."""
    return fresh(lambda: _backend_seed(draw_seed(seed)))


def _backend_seed(words: tuple[int, int], salt: int = 0) -> list[int]:
    """The seed of the backend generator for one draw (NumPy's SeedSequence entropy)."""
    return [words[0] & _UINT32, words[1] & _UINT32, salt]


# ---------------------------------------------------------------------- argument checks
def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(int(d) for d in shape)
    except TypeError as e:
        raise ValueError(f"`shape` must be a tuple of non-negative integers, got {shape!r}.") from e
    if any(d < 0 for d in dims):
        raise ValueError(f"`shape` must be a tuple of non-negative integers, got {shape!r}.")
    return dims


def _dtype(dtype: Any, kind: str, what: str) -> str:
    """`dtype` (None: floatx, float32) as a name, checked to be floating ("f") or integer ("iu")."""
    if dtype is None:
        return "float32"
    try:
        name = np.dtype(dtype).name if not (isinstance(dtype, str) and dtype == "bfloat16") else "bfloat16"
    except TypeError as e:
        raise ValueError(f"`keras.random.{what}`: unknown dtype {dtype!r}.") from e
    found = "f" if name == "bfloat16" else np.dtype(name).kind
    if found not in kind:
        wanted = "a floating point" if kind == "f" else "an integer"
        raise ValueError(f"`keras.random.{what}` requires {wanted} `dtype`. Received: dtype={dtype}")
    return name


def _number(value: Any, what: str) -> float:
    """A Python float from a number or a one-element tensor/array."""
    if isinstance(value, Tensor):
        value = value.numpy()
    try:
        return float(np.asarray(value).reshape(()))
    except (TypeError, ValueError) as e:
        raise ValueError(f"`{what}` must be a number, got {value!r}.") from e


# ---------------------------------------------------------------------- draws
def normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None) -> Tensor:
    """Normal draws: mean + stddev * N(0, 1)."""
    B = _backend.active
    dtype = _dtype(dtype, "f", "normal")
    sample = B.seeded_normal(_shape(shape), _fresh_seed(seed), dtype)
    return Tensor(_affine(sample, _number(stddev, "stddev"), _number(mean, "mean"), dtype))


def uniform(shape: Any, minval: float = 0.0, maxval: float = 1.0, dtype: Any = None, seed: Any = None) -> Tensor:
    """Uniform draws in [minval, maxval)."""
    B = _backend.active
    dtype = _dtype(dtype, "f", "uniform")
    lo, hi = _number(minval, "minval"), _number(maxval, "maxval")
    sample = B.seeded_uniform(_shape(shape), _fresh_seed(seed), dtype)
    return Tensor(_affine(sample, hi - lo, lo, dtype))


def truncated_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
                     seed: Any = None) -> Tensor:
    """Normal draws, those more than two standard deviations from the mean drawn again (Keras's rule)."""
    B = _backend.active
    dtype = _dtype(dtype, "f", "truncated_normal")
    dims = _shape(shape)
    words = draw_seed(seed)
    sample = B.seeded_normal(dims, _backend_seed(words), dtype)
    salt = 0
    while True:
        outside = B.compare("greater", B.abs(sample), 2.0)
        if not B.any(outside):
            break
        salt += 1
        sample = B.where(outside, B.seeded_normal(dims, _backend_seed(words, salt), dtype), sample)
    return Tensor(_affine(sample, _number(stddev, "stddev"), _number(mean, "mean"), dtype))


def randint(shape: Any, minval: int, maxval: int, dtype: Any = "int32", seed: Any = None) -> Tensor:
    """Integers uniform in [minval, maxval)."""
    dtype = _dtype(dtype, "iu", "randint")
    lo, hi = int(minval), int(maxval)
    if hi <= lo:
        raise ValueError(f"`keras.random.randint` needs minval < maxval, got minval={minval}, maxval={maxval}.")
    return Tensor(_backend.active.seeded_integers(_shape(shape), lo, hi, _fresh_seed(seed), dtype))


def categorical(logits: Any, num_samples: int, dtype: Any = "int32", seed: Any = None) -> Tensor:
    """`num_samples` class indices per row of 2-D `logits` (unnormalized log-probabilities).

    Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits); classes with -inf
    logits are never drawn.
    """
    B = _backend.active
    z = logits.data if isinstance(logits, Tensor) else B.asarray(np.asarray(logits, dtype=np.float32))
    if z.ndim != 2:
        raise ValueError("`logits` should be a 2-D tensor with shape [batch_size, num_classes]. "
                         f"Received: logits of shape {tuple(z.shape)}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 0:
        raise ValueError(f"`num_samples` must be a non-negative integer, got {num_samples!r}.")
    dtype = _dtype(dtype, "iu", "categorical")
    z = B.cast(z, "float64") if z.dtype.kind != "f" else z
    batch, classes = z.shape
    u = B.seeded_uniform((batch, int(num_samples), classes), _fresh_seed(seed), z.dtype)
    u = B.maximum(u, np.finfo(u.dtype).tiny)
    gumbel = B.negative(B.log(B.negative(B.log(u))))
    return Tensor(B.cast(B.argmax(B.add(B.expand_dims(z, 1), gumbel), axis=-1), dtype))


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> Tensor:
    """`x` with the values of each 1-D slice along `axis` in an independent random order (as Keras's
    JAX backend, `permutation(..., independent=True)`); differentiable."""
    B = _backend.active
    data = x.data if isinstance(x, Tensor) else B.asarray(np.asarray(x))
    if data.ndim == 0:
        raise ValueError("`keras.random.shuffle` needs a tensor of rank >= 1.")
    if not -data.ndim <= axis < data.ndim:
        raise ValueError(f"`axis` {axis} is out of range for a tensor of rank {data.ndim}.")
    axis %= data.ndim
    order = B.seeded_permutations(tuple(data.shape), axis, _fresh_seed(seed))
    key = tuple(order if i == axis else B.reshape(B.arange(n, dtype="int64"), _axis_shape(data.ndim, i, n))
                for i, n in enumerate(data.shape))
    out = B.getitem(data, key)
    shape = tuple(data.shape)
    return attach(out, (x,), lambda g: (B.getitem_backward(g, shape, key),))


def dropout(inputs: Any, rate: float, noise_shape: Sequence[Any] | None = None, seed: Any = None) -> Tensor:
    """Inverted dropout: each value (or each `noise_shape` slice) kept with probability 1 - rate and
    scaled by 1 / (1 - rate), else 0; differentiable."""
    B = _backend.active
    rate = _number(rate, "rate")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"`rate` must be a number in [0, 1], got {rate}.")
    data = inputs.data if isinstance(inputs, Tensor) else B.asarray(np.asarray(inputs, dtype=np.float32))
    if data.dtype.kind != "f":
        data = B.cast(data, "float32")
    if rate == 0.0:
        return inputs if isinstance(inputs, Tensor) else Tensor(data)
    shape = tuple(data.shape)
    if rate == 1.0:
        zeros = B.zeros(shape, dtype=data.dtype)
        return attach(zeros, (inputs,), lambda g: (B.zeros(shape, dtype=g.dtype),))
    dims = concrete_noise_shape(shape, noise_shape)
    keep = B.compare("less", B.seeded_uniform(dims, _fresh_seed(seed), data.dtype), 1.0 - rate)
    scale = B.cast(keep, data.dtype)
    scale = B.multiply(scale, data.dtype.type(1.0 / (1.0 - rate)))
    return attach(B.multiply(data, scale), (inputs,), lambda g: (B.multiply(g, scale),))


def concrete_noise_shape(shape: tuple[int, ...], noise_shape: Sequence[Any] | None) -> tuple[int, ...]:
    """`noise_shape` with None entries filled from `shape`, checked to broadcast against it."""
    if noise_shape is None:
        return shape
    dims = tuple(shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    if len(dims) != len(shape) or any(d not in (1, s) for d, s in zip(dims, shape)):
        raise ValueError(f"`noise_shape` {tuple(noise_shape)} does not broadcast to the inputs' shape {shape}: "
                         "each entry must be 1, None or the inputs' size on that axis.")
    return dims


def _axis_shape(ndim: int, axis: int, n: int) -> tuple[int, ...]:
    return tuple(n if i == axis else 1 for i in range(ndim))


def _affine(sample: Any, scale: float, shift: float, dtype: str) -> Any:
    """sample * scale + shift, kept in `dtype`."""
    B = _backend.active
    if scale != 1.0:
        sample = B.multiply(sample, sample.dtype.type(scale))
    if shift != 0.0:
        sample = B.add(sample, sample.dtype.type(shift))
    return sample if str(sample.dtype) == dtype else B.cast(sample, dtype)


__all__ = ["SeedGenerator", "categorical", "draw_seed", "dropout", "generator", "global_seed_generator",
           "normal", "randint", "set_seed", "shuffle", "truncated_normal", "uniform"]
