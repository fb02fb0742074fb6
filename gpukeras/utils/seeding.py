"""Global seeding, as keras.utils.set_random_seed."""

from __future__ import annotations

from gpukeras import random as _random


def set_random_seed(seed: int) -> None:
    """Seed every random stream gpukeras uses (initializers, dropout, shuffling)."""
    _random.set_seed(seed)
