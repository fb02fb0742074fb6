"""Custom RNN cells written once against a Keras-like module (test helper, not a test module).

`custom_cells(keras)` defines the cells against the module it is given, so the recorder
(tests/reference/record_keras3_rnn.py, real Keras 3) and the replay (tests/test_keras3_rnn.py,
`gpukeras as keras`) run the very same cell code.
"""

from __future__ import annotations

from typing import Any


def custom_cells(keras: Any) -> dict[str, type]:
    """{class name: class} of the custom cells, defined on `keras`."""
    ops = keras.ops

    class MinimalRNNCell(keras.layers.Layer):
        """keras.io's example cell: output = tanh(x @ kernel + h_prev @ recurrent_kernel), one state."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            output = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel))
            return output, [output]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    class TwoStateCell(keras.layers.Layer):
        """Two states and an output that is not the first state (a masked step repeats states[0])."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = [units, units]
            self.output_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            h, s = states[0], states[1]
            s_new = s * 0.5 + ops.matmul(inputs, self.kernel)
            h_new = ops.tanh(ops.matmul(h, self.recurrent_kernel) + s_new)
            return h_new * 2.0 + 1.0, [h_new, s_new]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return {"MinimalRNNCell": MinimalRNNCell, "TwoStateCell": TwoStateCell}
