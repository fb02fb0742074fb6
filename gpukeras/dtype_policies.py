"""Dtype policies (Keras 3's `keras.dtype_policies`): which dtype a layer computes in and which it stores
its variables in, and the global policy new layers take.

"mixed_float16" and "mixed_bfloat16" compute in 16 bits and keep variables in float32; any other name
is one dtype for both. The global policy is what a layer built with `dtype=None` gets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gpukeras import backend as _backend

try:
    import ml_dtypes  # registers NumPy's "bfloat16" dtype
except ImportError:  # pragma: no cover - a dependency; bfloat16 policies then explain what is missing
    ml_dtypes = None

_MIXED = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
_NON_NUMPY_DTYPES = ("bfloat16", "string")


def _check_name(name: Any) -> str:
    """`name` when it names a policy; a ValueError naming the valid ones otherwise."""
    if isinstance(name, str) and (name in _MIXED or name in _NON_NUMPY_DTYPES):
        if "bfloat16" in name and ml_dtypes is None:
            raise ValueError(f"The {name!r} policy needs the ml_dtypes package (NumPy's bfloat16): "
                             "pip install ml_dtypes.")
        return name
    if isinstance(name, str) and not name.startswith("mixed"):
        try:
            return np.dtype(name).name
        except TypeError:
            pass
    raise ValueError(f"Cannot convert {name!r} to a mixed precision DTypePolicy. Valid policies include "
                     "'mixed_float16', 'mixed_bfloat16', and the name of any float dtype such as 'float32'.")


class DTypePolicy:
    """A layer's dtypes: `compute_dtype` for its computations, `variable_dtype` for its weights."""

    def __init__(self, name: str | None = None):
        self._name = _check_name(global_policy().name if name is None else name)
        self._compute_dtype = _MIXED.get(self._name, self._name)
        self._variable_dtype = "float32" if self._name in _MIXED else self._name

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._variable_dtype

    @property
    def is_mixed(self) -> bool:
        """Whether computations and variables use different dtypes (variables are then autocast in calls)."""
        return self._compute_dtype != self._variable_dtype

    def get_config(self) -> dict[str, Any]:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DTypePolicy:
        return cls(**config)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'


Policy = DTypePolicy  # Keras 3 exports both names

_FLOAT32 = DTypePolicy.__new__(DTypePolicy)
_FLOAT32._name = _FLOAT32._compute_dtype = _FLOAT32._variable_dtype = "float32"
_global: DTypePolicy = _FLOAT32


def get(identifier: Any) -> DTypePolicy:
    """A policy from None (the global one), a name, a DTypePolicy or its config dict."""
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        config = identifier.get("config", identifier)
        return DTypePolicy(config.get("name"))
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    try:
        return DTypePolicy(np.dtype(identifier).name)  # np.float32, np.dtype("float16")
    except TypeError:
        pass
    raise ValueError(f"Cannot interpret {identifier!r} as a dtype policy: expected a name such as "
                     "'mixed_float16', a DTypePolicy or its config.")


def set_global_policy(policy: Any) -> None:
    """The policy every layer made from now on with `dtype=None` takes (Keras 3 accepts float policies only)."""
    found = get(policy) if policy is not None else _FLOAT32
    if not np.issubdtype(np.dtype("float16" if found.compute_dtype == "bfloat16" else found.compute_dtype),
                         np.floating):
        raise ValueError(f"set_global_policy() only accepts floating point policies, got {found.name!r}.")
    global _global
    _global = found


def global_policy() -> DTypePolicy:
    """The policy layers made with `dtype=None` take: the one set, else keras.backend.floatx()'s ('float32')."""
    if _global is _FLOAT32 and _backend.floatx() != "float32":
        return DTypePolicy(_backend.floatx())
    return _global


def serialize(policy: DTypePolicy) -> dict[str, Any]:
    """Keras 3's entry for a policy in a layer config."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": policy.get_config(), "registered_name": None}
