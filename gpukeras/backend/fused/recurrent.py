"""Fused fast path: one time step's elementwise work of an LSTM and a GRU (reset_after) cell, with
the generic code.

The recurrent GEMM (h_prev @ recurrent_kernel) is done by the caller; a step then adds the input
projection and the bias, applies the gate nonlinearities, updates the states and applies the mask
(a masked row keeps its states; its output is `fallback`, zeros when None). The backward step maps
the gradients of the new states and of the output back to the gate pre-activations and to the
previous states (all but the recurrent GEMM's part, which the caller adds). A backend overrides
these with one kernel each (CuPy: kernels/recurrent.cu), falling back to this code.

Activations are (name, params) pairs of backend primitives. `masked_output` says where a masked
row's output gradient goes: "carry" (the output was h_prev), "zero" (nowhere) or "unroll" (the
previous step's output: returned as `dout_prev`).
"""

from __future__ import annotations

from typing import Any

Array = Any
Activation = tuple[str, tuple]


class RecurrentFusions:
    """lstm_step / gru_step and their backward, generic over the required primitives."""

    # ------------------------------------------------------------------ shared
    def _masked_step_grads(self, dh: Array, dout: Array | None, mask: Array | None,
                           masked_output: str) -> tuple[Array, Array | None, Array | None, Array | None]:
        """(d of the new h, d that skips the cell to h_prev, the mask column, dout_prev) of a masked step."""
        if mask is None:
            return (dh if dout is None else self.add(dh, dout)), None, None, None
        m = mask[:, None]
        dh_new = self.where(m, dh, 0)
        keep = self.where(m, 0, dh)
        dout_prev = None
        if dout is not None:
            dh_new = self.add(dh_new, self.where(m, dout, 0))
            skipped = self.where(m, 0, dout)
            if masked_output == "carry":
                keep = self.add(keep, skipped)
            elif masked_output == "unroll":
                dout_prev = skipped
        return dh_new, keep, m, dout_prev

    def _masked_states(self, mask: Array | None, fallback: Array | None, h_new: Array,
                       pairs: list[tuple[Array, Array]]) -> tuple[Array, list[Array]]:
        """(output, states) of a step: where the mask is off, the previous states and `fallback`."""
        if mask is None:
            return h_new, [new for new, _ in pairs]
        m = mask[:, None]
        out = self.where(m, h_new, 0 if fallback is None else fallback)
        return out, [self.where(m, new, old) for new, old in pairs]

    # ------------------------------------------------------------------ LSTM
    def lstm_step(self, x: Array, hr: Array, bias: Array | None, h_prev: Array, c_prev: Array, mask: Array | None,
                  fallback: Array | None, activation: Activation,
                  recurrent_activation: Activation) -> tuple[Array, Array, Array, tuple]:
        """(h, c, output, saved) of one LSTM step, gates i, f, c, o: z = x + hr (+ bias),
        c_new = f * c_prev + i * act(z_c), h_new = o * act(c_new). `saved` is (z, (i, f, g, o), c_new,
        act(c_new)); the gates may also come as one (4, rows, units) array (a kernel's)."""
        act, act_params = activation
        ract, ract_params = recurrent_activation
        units = h_prev.shape[-1]
        z = self.add(x, hr)
        if bias is not None:
            z = self.add(z, bias)
        i, f, g, o = (self.activation(act if k == 2 else ract, z[:, k * units:(k + 1) * units],
                                      act_params if k == 2 else ract_params) for k in range(4))
        c_new = self.add(self.multiply(f, c_prev), self.multiply(i, g))
        ac = self.activation(act, c_new, act_params)
        h_new = self.multiply(o, ac)
        out, (h, c) = self._masked_states(mask, fallback, h_new, [(h_new, h_prev), (c_new, c_prev)])
        return h, c, out, (z, (i, f, g, o), c_new, ac)

    def lstm_step_backward(self, dh: Array, dc: Array, dout: Array | None, saved: tuple, c_prev: Array,
                           mask: Array | None, masked_output: str, activation: Activation,
                           recurrent_activation: Activation) -> tuple[Array, Array | None, Array, Array | None]:
        """(dz, dh_prev but the recurrent GEMM's part (None: zero), dc_prev, dout_prev) of one LSTM step,
        from the gradients of its h and c states (dh, dc) and of its output (dout, None: zero)."""
        act, act_params = activation
        ract, ract_params = recurrent_activation
        z, (i, f, g, o), c_new, ac = saved
        units = c_prev.shape[-1]
        dh_new, keep_h, m, dout_prev = self._masked_step_grads(dh, dout, mask, masked_output)
        dc_new = dc if m is None else self.where(m, dc, 0)
        dct = self.add(dc_new, self.activation_backward(act, self.multiply(dh_new, o), c_new, ac, act_params))
        dz = self.concatenate([
            self.activation_backward(ract, self.multiply(dct, g), z[:, :units], i, ract_params),
            self.activation_backward(ract, self.multiply(dct, c_prev), z[:, units:2 * units], f, ract_params),
            self.activation_backward(act, self.multiply(dct, i), z[:, 2 * units:3 * units], g, act_params),
            self.activation_backward(ract, self.multiply(dh_new, ac), z[:, 3 * units:], o, ract_params)], axis=1)
        dc_prev = self.multiply(dct, f)
        if m is not None:
            dc_prev = self.add(dc_prev, self.where(m, 0, dc))
        return dz, keep_h, dc_prev, dout_prev

    # ------------------------------------------------------------------ GRU (reset_after)
    def gru_step(self, x: Array, hr: Array, recurrent_bias: Array | None, h_prev: Array, mask: Array | None,
                 fallback: Array | None, activation: Activation,
                 recurrent_activation: Activation) -> tuple[Array, Array, tuple]:
        """(h, output, saved) of one GRU step with reset_after, gates z, r, h: inner = hr (+ recurrent_bias),
        z = ract(x_z + inner_z), r = ract(x_r + inner_r), hh = act(x_h + r * inner_h),
        h_new = z * h_prev + (1 - z) * hh. `saved` is ((z, r, h pre-activations), (z, r, hh), inner_h); the
        triples may also come as (3, rows, units) arrays (a kernel's)."""
        act, act_params = activation
        ract, ract_params = recurrent_activation
        units = h_prev.shape[-1]
        inner = hr if recurrent_bias is None else self.add(hr, recurrent_bias)
        inner_h = inner[:, 2 * units:]
        zpre = self.add(x[:, :units], inner[:, :units])
        rpre = self.add(x[:, units:2 * units], inner[:, units:2 * units])
        z = self.activation(ract, zpre, ract_params)
        r = self.activation(ract, rpre, ract_params)
        hpre = self.add(x[:, 2 * units:], self.multiply(r, inner_h))
        hh = self.activation(act, hpre, act_params)
        h_new = self.add(self.multiply(z, h_prev), self.multiply(self.subtract(1.0, z), hh))
        out, (h,) = self._masked_states(mask, fallback, h_new, [(h_new, h_prev)])
        return h, out, ((zpre, rpre, hpre), (z, r, hh), inner_h)

    def gru_step_backward(self, dh: Array, dout: Array | None, saved: tuple, h_prev: Array, mask: Array | None,
                          masked_output: str, activation: Activation,
                          recurrent_activation: Activation) -> tuple[Array, Array, Array, Array | None]:
        """(dx, dinner, dh_prev but the recurrent GEMM's part, dout_prev) of one GRU step (reset_after):
        dx is the gradient of the step's input projection, dinner of hr + recurrent_bias."""
        act, act_params = activation
        ract, ract_params = recurrent_activation
        (zpre, rpre, hpre), (z, r, hh), inner_h = saved
        dh_new, keep_h, _, dout_prev = self._masked_step_grads(dh, dout, mask, masked_output)
        dzpre = self.activation_backward(ract, self.multiply(dh_new, self.subtract(h_prev, hh)), zpre, z, ract_params)
        dhpre = self.activation_backward(act, self.multiply(dh_new, self.subtract(1.0, z)), hpre, hh, act_params)
        drpre = self.activation_backward(ract, self.multiply(dhpre, inner_h), rpre, r, ract_params)
        dx = self.concatenate([dzpre, drpre, dhpre], axis=1)
        dinner = self.concatenate([dzpre, drpre, self.multiply(dhpre, r)], axis=1)
        dh_skip = self.multiply(dh_new, z)
        if keep_h is not None:
            dh_skip = self.add(dh_skip, keep_h)
        return dx, dinner, dh_skip, dout_prev
