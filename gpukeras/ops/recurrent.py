"""Whole-sequence recurrences of SimpleRNN, LSTM and GRU cells, with backpropagation through time.

Each op takes the input projections of every time step at once (`xp`, time-major
(T, batch, gates * units): one GEMM made them before the loop), runs the recurrence forward step
by step (the recurrent GEMM plus the cell's elementwise work), and attaches one backward that
walks the steps in reverse and forms the recurrent kernel's gradient with one GEMM over all steps.
So a layer costs a handful of tape nodes whatever the sequence length.

Masks follow Keras 3 (JAX backend): at a masked step every state keeps its previous value and
the output is `masked_output`'s choice: "carry" (the previous first state), "zero", or "unroll"
(the previous output, zeros before the first step; what Keras's unrolled loop does).
Activations are backend primitives given as (name, params).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpukeras import backend as _backend
from gpukeras.autodiff import attach
from gpukeras.ops.core import data_of
from gpukeras.ops.multi_output import multi_output, needs_grad
from gpukeras.tensor import Tensor

Activation = tuple[str, tuple]
MASKED_OUTPUTS = ("carry", "zero", "unroll")


def flip(x: Any, axis: int = 0) -> Tensor:
    """`x` reversed along `axis` (keras.ops.flip); the backward flips the gradient back (a reversed
    getitem's backward would scatter-add it)."""
    B = _backend.active
    a = data_of(x)
    index = [slice(None)] * a.ndim
    index[axis] = slice(None, None, -1)
    key = tuple(index)
    return attach(B.getitem(a, key), (x,), lambda g: (B.getitem(g, key),))


def snapshot(x: Any) -> Tensor:
    """A copy of `x`'s current value, cut from the tape: later in-place writes to a Variable (a
    stateful layer's states) cannot change what a recorded step saved."""
    return Tensor(_backend.active.copy(data_of(x)))


# ---------------------------------------------------------------------------- the cells' steps
class _Step:
    """One cell's step rules, masks included. `forward(x_t, states, mask_t, fallback)` gives the new
    states, the output (`fallback` where the mask is off, zeros when None) and what `backward` needs;
    `backward(d_states, d_output, mask_t, masked_output, saved)` gives (d x_t, the previous states'
    gradients, the previous output's gradient (unroll) or None, (recurrent input, gradient) pairs);
    `kernel_grads` forms the recurrent weights' gradients from every step's pairs."""

    def __init__(self, R: Any, activation: Activation, recurrent_activation: Activation | None):
        self.B = _backend.active
        self.R = R
        # Rᵀ as its own C-contiguous copy: the backward's dz @ Rᵀ on a transposed view ran at half speed
        # (OpenBLAS, 32x256 @ 256x64: 12 against 5 µs per step).
        self.RT = self.B.copy(self.B.transpose(R))
        self.units = R.shape[0]
        self.activation = activation
        self.recurrent_activation = recurrent_activation or ("linear", ())

    def kernel_grads(self, pairs: list[list[tuple[Any, Any]]], dxs: list[Any], dX: Any) -> list[Any]:
        """The recurrent weights' gradients: per column block of the kernel, (all steps' inputs)ᵀ @
        (their gradients), one GEMM; gradients that are the steps' dx come from the stacked `dX`."""
        B = self.B
        blocks, stacked = [], []
        for j in range(len(pairs[0])):
            ins = B.stack([p[j][0] for p in pairs])
            grads = [p[j][1] for p in pairs]
            gs = dX if all(g is d for g, d in zip(grads, dxs)) else B.stack(grads)
            stacked.append(gs)
            blocks.append(B.matmul(B.transpose(B.reshape(ins, (-1, ins.shape[-1]))),
                                   B.reshape(gs, (-1, gs.shape[-1]))))
        return [blocks[0] if len(blocks) == 1 else B.concatenate(blocks, axis=1), *self.other_grads(stacked)]

    def other_grads(self, stacked: list[Any]) -> list[Any]:
        """Gradients of weights besides the kernel, from the stacked per-block gradients (none here)."""
        return []


class _LSTMStep(_Step):
    """Keras's LSTM step (gates i, f, c, o): the recurrent GEMM, then the backend's fused `lstm_step`."""

    def __init__(self, R: Any, bias: Any, activation: Activation, recurrent_activation: Activation):
        super().__init__(R, activation, recurrent_activation)
        self.bias = bias

    def forward(self, x: Any, states: list[Any], m: Any, fallback: Any) -> tuple[list[Any], Any, tuple]:
        h_prev, c_prev = states
        h, c, out, saved = self.B.lstm_step(x, self.B.matmul(h_prev, self.R), self.bias, h_prev, c_prev, m,
                                            fallback, self.activation, self.recurrent_activation)
        return [h, c], out, (h_prev, c_prev, saved)

    def backward(self, d: list[Any], dout: Any, m: Any, masked_output: str, saved: tuple) -> tuple:
        h_prev, c_prev, cell_saved = saved
        dz, dh_skip, dc_prev, dout_prev = self.B.lstm_step_backward(
            d[0], d[1], dout, cell_saved, c_prev, m, masked_output, self.activation, self.recurrent_activation)
        dh_prev = self.B.matmul(dz, self.RT)
        if dh_skip is not None:
            dh_prev = self.B.add(dh_prev, dh_skip)
        return dz, [dh_prev, dc_prev], dout_prev, [(h_prev, dz)]


class _GRUStep(_Step):
    """Keras's GRU step with reset_after (gates z, r, h): the recurrent GEMM, then the backend's fused
    `gru_step` (the reset gate multiplies h_prev @ R_h + recurrent bias)."""

    def __init__(self, R: Any, recurrent_bias: Any, activation: Activation, recurrent_activation: Activation):
        super().__init__(R, activation, recurrent_activation)
        self.recurrent_bias = recurrent_bias

    def forward(self, x: Any, states: list[Any], m: Any, fallback: Any) -> tuple[list[Any], Any, tuple]:
        h_prev = states[0]
        h, out, saved = self.B.gru_step(x, self.B.matmul(h_prev, self.R), self.recurrent_bias, h_prev, m, fallback,
                                        self.activation, self.recurrent_activation)
        return [h], out, (h_prev, saved)

    def backward(self, d: list[Any], dout: Any, m: Any, masked_output: str, saved: tuple) -> tuple:
        h_prev, cell_saved = saved
        dx, dinner, dh_skip, dout_prev = self.B.gru_step_backward(
            d[0], dout, cell_saved, h_prev, m, masked_output, self.activation, self.recurrent_activation)
        return dx, [self.B.add(self.B.matmul(dinner, self.RT), dh_skip)], dout_prev, [(h_prev, dinner)]

    def other_grads(self, stacked: list[Any]) -> list[Any]:
        """The recurrent bias's gradient: the sum of every step's d(inner)."""
        if self.recurrent_bias is None:
            return []
        return [self.B.sum(self.B.reshape(stacked[0], (-1, stacked[0].shape[-1])), axis=0)]


class _MaskedHere(_Step):
    """A step whose mask is applied here (no fused backend step): subclasses give the unmasked
    `cell_forward(x, h_prev) -> (h_new, saved)` and `cell_backward(dh_new, saved) -> (dx, dh_prev, pairs)`."""

    def forward(self, x: Any, states: list[Any], m: Any, fallback: Any) -> tuple[list[Any], Any, tuple]:
        B = self.B
        h_prev = states[0]
        h_new, saved = self.cell_forward(x, h_prev)
        if m is None:
            return [h_new], h_new, saved
        m = m[:, None]
        return [B.where(m, h_new, h_prev)], B.where(m, h_new, 0 if fallback is None else fallback), saved

    def backward(self, d: list[Any], dout: Any, m: Any, masked_output: str, saved: tuple) -> tuple:
        B = self.B
        dh, dout_prev, keep = d[0], None, None
        if m is None:
            dh_new = dh if dout is None else B.add(dh, dout)
        else:
            m = m[:, None]
            dh_new, keep = B.where(m, dh, 0), B.where(m, 0, dh)
            if dout is not None:
                dh_new = B.add(dh_new, B.where(m, dout, 0))
                if masked_output == "carry":
                    keep = B.add(keep, B.where(m, 0, dout))
                elif masked_output == "unroll":
                    dout_prev = B.where(m, 0, dout)
        dx, dh_prev, pairs = self.cell_backward(dh_new, saved)
        return dx, [dh_prev if keep is None else B.add(dh_prev, keep)], dout_prev, pairs


class _SimpleRNNStep(_MaskedHere):
    """h = activation(x_t + h_prev @ R) (x_t already holds x @ kernel + bias)."""

    def cell_forward(self, x: Any, h: Any) -> tuple[Any, tuple]:
        B = self.B
        act, params = self.activation
        pre = B.add(x, B.matmul(h, self.R))
        out = B.activation(act, pre, params)
        return out, (h, pre, out)

    def cell_backward(self, dh: Any, saved: tuple) -> tuple[Any, Any, list[tuple]]:
        h, pre, out = saved
        act, params = self.activation
        dpre = self.B.activation_backward(act, dh, pre, out, params)
        return dpre, self.B.matmul(dpre, self.RT), [(h, dpre)]


class _GRUResetBeforeStep(_MaskedHere):
    """Keras's GRU step without reset_after: the reset gate multiplies h_prev before R_h, so the step
    needs a second GEMM between its gates (no fused step)."""

    def cell_forward(self, x: Any, h: Any) -> tuple[Any, tuple]:
        B, U = self.B, self.units
        act, params = self.activation
        ract, rparams = self.recurrent_activation
        inner = B.matmul(h, B.getitem(self.R, (slice(None), slice(None, 2 * U))))
        zpre = B.add(B.getitem(x, (slice(None), slice(None, U))), B.getitem(inner, (slice(None), slice(None, U))))
        rpre = B.add(B.getitem(x, (slice(None), slice(U, 2 * U))), B.getitem(inner, (slice(None), slice(U, 2 * U))))
        z = B.activation(ract, zpre, rparams)
        r = B.activation(ract, rpre, rparams)
        rec_in = B.multiply(r, h)
        hpre = B.add(B.getitem(x, (slice(None), slice(2 * U, None))),
                     B.matmul(rec_in, B.getitem(self.R, (slice(None), slice(2 * U, None)))))
        hh = B.activation(act, hpre, params)
        h_new = B.add(B.multiply(z, h), B.multiply(B.subtract(1.0, z), hh))
        return h_new, (h, zpre, rpre, z, r, rec_in, hpre, hh)

    def cell_backward(self, dh: Any, saved: tuple) -> tuple[Any, Any, list[tuple]]:
        B, U = self.B, self.units
        act, params = self.activation
        ract, rparams = self.recurrent_activation
        h, zpre, rpre, z, r, rec_in, hpre, hh = saved
        dzpre = B.activation_backward(ract, B.multiply(dh, B.subtract(h, hh)), zpre, z, rparams)
        dhpre = B.activation_backward(act, B.multiply(dh, B.subtract(1.0, z)), hpre, hh, params)
        drec_in = B.matmul(dhpre, B.getitem(self.RT, slice(2 * U, None)))
        drpre = B.activation_backward(ract, B.multiply(drec_in, h), rpre, r, rparams)
        dzr = B.concatenate([dzpre, drpre], axis=1)
        dh_prev = B.add(B.add(B.multiply(dh, z), B.multiply(drec_in, r)),
                        B.matmul(dzr, B.getitem(self.RT, slice(None, 2 * U))))
        return B.concatenate([dzr, dhpre], axis=1), dh_prev, [(h, dzr), (rec_in, dhpre)]


# ---------------------------------------------------------------------------- the time loop
def _run(step: _Step, xp: Tensor, states: Sequence[Tensor], mask: Any, masked_output: str,
         weights: Sequence[Any], bias_grad: bool = False) -> list[Tensor]:
    """Run `step` over every time step of `xp`; returns [outputs (T, batch, units), last output,
    *final states] as Tensors sharing one backward."""
    if masked_output not in MASKED_OUTPUTS:
        raise ValueError(f"masked_output must be one of {MASKED_OUTPUTS}, got {masked_output!r}.")
    B = step.B
    X = data_of(xp)
    # The mask in the steps' dtype (1 where a step counts), C-contiguous: each step reads one row.
    M = None if mask is None else B.copy(B.cast(data_of(mask), X.dtype))
    T = X.shape[0]
    if T == 0:
        raise ValueError("A recurrent layer needs at least one time step, got a sequence of length 0.")
    inputs = (xp, *states, *weights)
    record = needs_grad(inputs)
    cur = [data_of(s) for s in states]
    outs: list[Any] = []
    saved: list[tuple] = []
    for t in range(T):
        fallback = None
        if M is not None and masked_output == "carry":
            fallback = cur[0]
        elif M is not None and masked_output == "unroll" and outs:
            fallback = outs[-1]
        cur, out, keep = step.forward(B.getitem(X, t), cur, None if M is None else B.getitem(M, t), fallback)
        if record:
            saved.append(keep)
        outs.append(out)
    arrays = [B.stack(outs), outs[-1], *cur]

    def backward(grads: list[Any]) -> list[Any]:
        g_seq, g_last, *g_states = grads
        d = [g if g is not None else B.zeros(s.shape, dtype=s.dtype) for g, s in zip(g_states, cur)]
        dout_prev = None
        dxs: list[Any] = [None] * T
        pairs: list[Any] = [None] * T
        for t in range(T - 1, -1, -1):
            go = B.getitem(g_seq, t) if g_seq is not None else None
            for extra in (g_last if t == T - 1 else None, dout_prev):
                if extra is not None:
                    go = extra if go is None else B.add(go, extra)
            dxs[t], d, dout_prev, pairs[t] = step.backward(d, go, None if M is None else B.getitem(M, t),
                                                           masked_output, saved[t])
        dX = B.stack(dxs)
        weight_grads = step.kernel_grads(pairs, dxs, dX)
        if bias_grad:
            weight_grads.append(B.sum(B.reshape(dX, (-1, dX.shape[-1])), axis=0))
        return [dX, *d, *weight_grads]

    return multi_output(arrays, inputs, backward)


def _check_mask(mask: Any, xp: Any) -> None:
    if mask is not None and tuple(mask.shape) != tuple(xp.shape[:2]):
        raise ValueError(f"The mask must have shape (time, batch) = {tuple(xp.shape[:2])}, got {tuple(mask.shape)}.")


def simple_rnn_recurrence(xp: Any, h0: Any, recurrent_kernel: Any, mask: Any = None,
                          activation: Activation = ("tanh", ()), masked_output: str = "carry") -> list[Tensor]:
    """SimpleRNN over time-major projections xp (T, batch, units) = x @ kernel + bias.

    Returns [outputs (T, batch, units), last output, final h]."""
    _check_mask(mask, xp)
    step = _SimpleRNNStep(data_of(recurrent_kernel), activation, None)
    return _run(step, xp, [h0], mask, masked_output, [recurrent_kernel])


def lstm_recurrence(xp: Any, h0: Any, c0: Any, recurrent_kernel: Any, bias: Any = None, mask: Any = None,
                    activation: Activation = ("tanh", ()), recurrent_activation: Activation = ("sigmoid", ()),
                    masked_output: str = "carry") -> list[Tensor]:
    """LSTM over time-major projections xp (T, batch, 4 * units) = x @ kernel (+ bias when `bias` is
    None; Keras's default step adds the bias after the recurrent product, so pass it here for its numbers).

    Returns [outputs (T, batch, units), last output, final h, final c]."""
    _check_mask(mask, xp)
    step = _LSTMStep(data_of(recurrent_kernel), None if bias is None else data_of(bias), activation,
                     recurrent_activation)
    weights = [recurrent_kernel] if bias is None else [recurrent_kernel, bias]
    return _run(step, xp, [h0, c0], mask, masked_output, weights, bias_grad=bias is not None)


def gru_recurrence(xp: Any, h0: Any, recurrent_kernel: Any, recurrent_bias: Any = None, reset_after: bool = True,
                   mask: Any = None, activation: Activation = ("tanh", ()),
                   recurrent_activation: Activation = ("sigmoid", ()), masked_output: str = "carry") -> list[Tensor]:
    """GRU over time-major projections xp (T, batch, 3 * units) = x @ kernel + input bias;
    `recurrent_bias` (reset_after only) is added to h_prev @ recurrent_kernel.

    Returns [outputs (T, batch, units), last output, final h]."""
    _check_mask(mask, xp)
    if recurrent_bias is not None and not reset_after:
        raise ValueError("gru_recurrence: a recurrent bias exists only with reset_after=True.")
    R = data_of(recurrent_kernel)
    if reset_after:
        step = _GRUStep(R, None if recurrent_bias is None else data_of(recurrent_bias), activation,
                        recurrent_activation)
    else:
        step = _GRUResetBeforeStep(R, activation, recurrent_activation)
    weights = [recurrent_kernel] if recurrent_bias is None else [recurrent_kernel, recurrent_bias]
    return _run(step, xp, [h0], mask, masked_output, weights)
