"""gpukeras.preprocessing: Keras's keras.preprocessing namespace (the data utilities under their older names)."""

from gpukeras.preprocessing import sequence
from gpukeras.utils.timeseries import timeseries_dataset_from_array

__all__ = ["sequence", "timeseries_dataset_from_array"]
