"""Keras 3 weight initializers: `init(shape, dtype)` returns a backend array.

Random initializers follow Keras 3's seeding: an int seed, or no seed (one is drawn from the global
gpukeras generator when the initializer is made), gives the same values on every call; a
`gpukeras.random.SeedGenerator` gives new values each call.
"""

from __future__ import annotations

import math
from typing import Any

from gpukeras import backend as _backend
from gpukeras import random as _random
from gpukeras.saving.serialization import Catalogue, deserialize_object, lookup, register_catalogue, serialize_object


class Initializer:
    """Base class: `__call__(shape, dtype=None)` returns a backend array of that shape."""

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(shape, dtype=None).")

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        return cls(**config)

    def clone(self) -> Initializer:
        return type(self).from_config(self.get_config())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


def _shape(shape: Any) -> tuple[int, ...]:
    try:
        out = tuple(int(d) for d in shape)
    except TypeError as exc:
        raise ValueError(f"An initializer shape must be a sequence of ints, got {shape!r}.") from exc
    if any(d < 0 for d in out):
        raise ValueError(f"An initializer shape must not have negative sizes, got {out}.")
    return out


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        return _backend.active.zeros(_shape(shape), dtype=dtype or "float32")


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        return _backend.active.ones(_shape(shape), dtype=dtype or "float32")


class Constant(Initializer):
    """Every entry equal to `value`."""

    def __init__(self, value: float = 0.0):
        self.value = value

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        return _backend.active.full(_shape(shape), self.value, dtype=dtype or "float32")

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class RandomInitializer(Initializer):
    """Base of the seeded initializers (Keras 3 seeding rules, see the module docstring)."""

    def __init__(self, seed: Any = None):
        if seed is not None and not isinstance(seed, (int, _random.SeedGenerator)) or isinstance(seed, bool):
            raise ValueError(f"`seed` must be an int, a gpukeras.random.SeedGenerator or None, got {seed!r}.")
        self._init_seed = seed
        self.seed = int(_random.generator().integers(1, 10**9)) if seed is None else seed

    def _rng(self) -> Any:
        if isinstance(self.seed, _random.SeedGenerator):
            return self.seed.rng
        return _random.generator(self.seed)

    def get_config(self) -> dict[str, Any]:
        seed = self._init_seed
        return {"seed": seed if not isinstance(seed, _random.SeedGenerator) else seed.seed}


class RandomNormal(RandomInitializer):
    """Normal draws with the given mean and standard deviation."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Any = None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        return _backend.active.random_normal(_shape(shape), self.mean, self.stddev, self._rng(),
                                             dtype=dtype or "float32")

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomInitializer):
    """Normal draws redrawn outside two standard deviations."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Any = None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        return _backend.active.truncated_normal(_shape(shape), self.mean, self.stddev, self._rng(),
                                                dtype=dtype or "float32")

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(RandomInitializer):
    """Uniform draws in [minval, maxval)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: Any = None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        return _backend.active.random_uniform(_shape(shape), self.minval, self.maxval, self._rng(),
                                              dtype=dtype or "float32")

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out): dense (in, out); conv kernels (..., in, out) times the receptive field size."""
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")


class VarianceScaling(RandomInitializer):
    """Draws scaled by the fan: variance scale / fan (Glorot, He and LeCun are special cases)."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: Any = None):
        if scale <= 0.0:
            raise ValueError(f"VarianceScaling: `scale` must be positive, got {scale}.")
        if mode not in _MODES:
            raise ValueError(f"VarianceScaling: unknown mode {mode!r}; valid modes are {', '.join(_MODES)}.")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in _DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: unknown distribution {distribution!r}; valid ones are "
                             f"{', '.join(_DISTRIBUTIONS)}.")
        super().__init__(seed)
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        shape = _shape(shape)
        dtype = dtype or "float32"
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        B = _backend.active
        if self.distribution == "truncated_normal":
            # 0.8796... is the stddev of a standard normal truncated to [-2, 2]
            stddev = math.sqrt(scale) / 0.87962566103423978
            return B.truncated_normal(shape, 0.0, stddev, self._rng(), dtype=dtype)
        if self.distribution == "untruncated_normal":
            return B.random_normal(shape, 0.0, math.sqrt(scale), self._rng(), dtype=dtype)
        limit = math.sqrt(3.0 * scale)
        return B.random_uniform(shape, -limit, limit, self._rng(), dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config()}


def _preset(name: str, scale: float, mode: str, distribution: str, doc: str) -> type:
    """A VarianceScaling subclass with fixed scale/mode/distribution whose config is just the seed."""

    def __init__(self, seed: Any = None):
        VarianceScaling.__init__(self, scale=scale, mode=mode, distribution=distribution, seed=seed)

    def get_config(self) -> dict[str, Any]:
        return RandomInitializer.get_config(self)

    cls = type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})
    cls.__module__ = __name__
    return cls


GlorotUniform = _preset("GlorotUniform", 1.0, "fan_avg", "uniform",
                        "Uniform in ±sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                       "Truncated normal, stddev sqrt(2 / (fan_in + fan_out)).")
HeUniform = _preset("HeUniform", 2.0, "fan_in", "uniform", "Uniform in ±sqrt(6 / fan_in).")
HeNormal = _preset("HeNormal", 2.0, "fan_in", "truncated_normal",
                   "Truncated normal, stddev sqrt(2 / fan_in).")
LecunUniform = _preset("LecunUniform", 1.0, "fan_in", "uniform", "Uniform in ±sqrt(3 / fan_in).")
LecunNormal = _preset("LecunNormal", 1.0, "fan_in", "truncated_normal",
                      "Truncated normal, stddev sqrt(1 / fan_in).")


class Orthogonal(RandomInitializer):
    """A (scaled) orthogonal matrix from the QR decomposition of a normal draw, reshaped to `shape`."""

    def __init__(self, gain: float = 1.0, seed: Any = None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs a shape of rank >= 2, got {shape}.")
        B = _backend.active
        rows, cols = math.prod(shape[:-1]), shape[-1]
        flat = (max(rows, cols), min(rows, cols))
        q, r = B.qr(B.random_normal(flat, 0.0, 1.0, self._rng(), dtype=dtype or "float32"))
        signs = B.sign(B.diagonal(r))
        q = B.multiply(q, signs)
        if rows < cols:
            q = B.transpose(q)
        return B.cast(B.multiply(B.reshape(q, shape), self.gain), dtype or "float32")

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    """gain * identity matrix (2-D shapes only)."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def __call__(self, shape: tuple[int, ...], dtype: Any = None) -> Any:
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, got {shape}.")
        B = _backend.active
        dtype = dtype or "float32"
        return B.cast(B.multiply(B.eye(shape[0], shape[1], dtype=dtype), self.gain), dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


# ---------------------------------------------------------------------------- lookup
_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (
        Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, GlorotUniform,
        GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal, Identity,
    )
}
_ALIASES: dict[str, type] = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "identity": Identity, "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal, "uniform": RandomUniform, "normal": RandomNormal, "one": Ones,
    "zero": Zeros,
}
ALL_INITIALIZERS: dict[str, type] = {**_CLASSES, **_ALIASES}


def get(identifier: Any) -> Any:
    """An initializer from a name ("glorot_uniform", "zeros", "HeNormal", ...), class, instance,
    config dict, or callable `fn(shape, dtype=None)`; None stays None."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        return lookup("initializer", identifier, ALL_INITIALIZERS)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier {identifier!r}: expected a name, an "
                     f"Initializer, a config dict or a callable.")


def serialize(initializer: Any) -> Any:
    """Keras's config dict for an initializer (None stays None)."""
    if initializer is None:
        return None
    if isinstance(initializer, Initializer):
        return serialize_object(initializer, "keras.initializers")
    name = getattr(initializer, "__name__", None)
    if name is None:
        raise ValueError(f"Cannot serialize initializer {initializer!r}.")
    return name


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """Inverse of `serialize`."""
    if isinstance(config, str):
        return lookup("initializer", config, ALL_INITIALIZERS, custom_objects)()
    return deserialize_object("initializer", config, ALL_INITIALIZERS, custom_objects)


# Keras 3's lowercase aliases of the classes (keras.initializers.glorot_uniform is GlorotUniform)
constant, zeros, ones, identity, orthogonal = Constant, Zeros, Ones, Identity, Orthogonal
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling, glorot_normal, glorot_uniform = VarianceScaling, GlorotNormal, GlorotUniform
he_normal, he_uniform, lecun_normal, lecun_uniform = HeNormal, HeUniform, LecunNormal, LecunUniform
IdentityInitializer, OrthogonalInitializer = Identity, Orthogonal


register_catalogue(Catalogue("keras.initializers", base=Initializer, deserialize=deserialize))
