"""The base of SimpleRNN, LSTM and GRU: an RNN that makes its own built-in cell from its arguments,
shows the cell's arguments as its own, and saves them flat in its config (Keras 3's layout)."""

from __future__ import annotations

from typing import Any

from gpukeras import regularizers
from gpukeras.layers.rnn.rnn import RNN, check_rnn_flags

# Cell arguments the layer shows as its own attributes (read from the cell, as Keras's properties do).
_CELL_ATTRIBUTES = (
    "units", "activation", "recurrent_activation", "use_bias", "unit_forget_bias", "reset_after",
    "kernel_initializer", "recurrent_initializer", "bias_initializer", "kernel_regularizer",
    "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint",
    "dropout", "recurrent_dropout",
)
_CELL_ONLY_CONFIG = ("name", "trainable", "dtype")


class RecurrentLayer(RNN):
    """An RNN around a `cell_class` cell named `cell_name`; subclasses pass the cell's arguments."""

    cell_class: type = None  # set by each subclass
    cell_name = ""

    def __init__(self, units: int, cell_args: dict[str, Any], return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, activity_regularizer: Any = None, **kwargs: Any):
        flags = dict(return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
                     stateful=stateful, unroll=unroll)
        check_rnn_flags(type(self).__name__, {**flags, "zero_output_for_mask": kwargs.get("zero_output_for_mask",
                                                                                         False)})
        regularizers.get(activity_regularizer)
        cell = self.cell_class(units, **cell_args, dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                               name=self.cell_name)
        super().__init__(cell, **flags, activity_regularizer=activity_regularizer, **kwargs)

    def build(self, sequences_shape: Any, initial_state_shape: Any = None) -> None:
        shape = self._sequence_shape(sequences_shape)
        if len(shape) != 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects inputs of shape (batch, time, features), "
                             f"got {shape}.")
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences: Any, initial_state: Any = None, mask: Any = None, training: bool = False) -> Any:
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    @property
    def seed(self) -> Any:
        return self.cell.seed

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["cell"]
        cell_config = {k: v for k, v in self.cell.get_config().items() if k not in _CELL_ONLY_CONFIG}
        return {**config, **cell_config, "activity_regularizer": regularizers.serialize(self.activity_regularizer)}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> RecurrentLayer:
        return super(RNN, cls).from_config(config)


def _cell_attribute(name: str) -> property:
    def read(self: RecurrentLayer) -> Any:
        return getattr(self.cell, name)

    read.__doc__ = f"The cell's `{name}`."
    return property(read)


for _name in _CELL_ATTRIBUTES:
    setattr(RecurrentLayer, _name, _cell_attribute(_name))
