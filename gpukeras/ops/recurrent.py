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
    """One cell's step rules: `forward` maps (x_t, states) to new states (the first is the output)
    and what `backward` needs; `backward` maps the new states' gradients to (d x_t, the previous
    states' gradients, (recurrent input, gradient) pairs); `kernel_grads` forms the recurrent
    weights' gradients from every step's pairs."""

    def __init__(self, R: Any, activation: Activation, recurrent_activation: Activation | None):
        self.B = _backend.active
        self.R = R
        self.units = R.shape[0]
        self.act, self.act_params = activation
        self.ract, self.ract_params = recurrent_activation or ("linear", ())

    def a(self, x: Any) -> Any:
        return self.B.activation(self.act, x, self.act_params)

    def da(self, dy: Any, x: Any, y: Any) -> Any:
        return self.B.activation_backward(self.act, dy, x, y, self.act_params)

    def ra(self, x: Any) -> Any:
        return self.B.activation(self.ract, x, self.ract_params)

    def dra(self, dy: Any, x: Any, y: Any) -> Any:
        return self.B.activation_backward(self.ract, dy, x, y, self.ract_params)

    def kernel_grads(self, pairs: list[list[tuple[Any, Any]]]) -> list[Any]:
        """The recurrent kernel's gradient: per column block, (all steps' inputs)ᵀ @ (their gradients)."""
        B = self.B
        blocks = []
        for j in range(len(pairs[0])):
            ins = B.stack([p[j][0] for p in pairs])
            gs = B.stack([p[j][1] for p in pairs])
            blocks.append(B.matmul(B.transpose(B.reshape(ins, (-1, ins.shape[-1]))),
                                   B.reshape(gs, (-1, gs.shape[-1]))))
        return [blocks[0] if len(blocks) == 1 else B.concatenate(blocks, axis=1)]


class _SimpleRNNStep(_Step):
    """h = activation(x_t + h_prev @ R) (x_t already holds x @ kernel + bias)."""

    def forward(self, x: Any, states: list[Any]) -> tuple[list[Any], tuple]:
        B = self.B
        h = states[0]
        pre = B.add(x, B.matmul(h, self.R))
        out = self.a(pre)
        return [out], (h, pre, out)

    def backward(self, d_new: list[Any], saved: tuple) -> tuple[Any, list[Any], list[tuple]]:
        h, pre, out = saved
        dpre = self.da(d_new[0], pre, out)
        return dpre, [self.B.matmul(dpre, self.B.transpose(self.R))], [(h, dpre)]


class _LSTMStep(_Step):
    """Keras's LSTM step, gates in order i, f, c, o: z = x_t + h_prev @ R (+ bias)."""

    def __init__(self, R: Any, bias: Any, activation: Activation, recurrent_activation: Activation):
        super().__init__(R, activation, recurrent_activation)
        self.bias = bias

    def forward(self, x: Any, states: list[Any]) -> tuple[list[Any], tuple]:
        B, U = self.B, self.units
        h, c = states
        z = B.add(x, B.matmul(h, self.R))
        if self.bias is not None:
            z = B.add(z, self.bias)
        i = self.ra(z[:, :U])
        f = self.ra(z[:, U:2 * U])
        g = self.a(z[:, 2 * U:3 * U])
        o = self.ra(z[:, 3 * U:])
        c_new = B.add(B.multiply(f, c), B.multiply(i, g))
        ac = self.a(c_new)
        return [B.multiply(o, ac), c_new], (h, c, z, i, f, g, o, c_new, ac)

    def backward(self, d_new: list[Any], saved: tuple) -> tuple[Any, list[Any], list[tuple]]:
        B, U = self.B, self.units
        dh, dc = d_new
        h, c, z, i, f, g, o, c_new, ac = saved
        dc = B.add(dc, self.da(B.multiply(dh, o), c_new, ac))
        dz = B.concatenate([self.dra(B.multiply(dc, g), z[:, :U], i),
                            self.dra(B.multiply(dc, c), z[:, U:2 * U], f),
                            self.da(B.multiply(dc, i), z[:, 2 * U:3 * U], g),
                            self.dra(B.multiply(dh, ac), z[:, 3 * U:], o)], axis=1)
        dh_prev = B.matmul(dz, B.transpose(self.R))
        return dz, [dh_prev, B.multiply(dc, f)], [(h, dz)]


class _GRUStep(_Step):
    """Keras's GRU step, gates in order z, r, h. reset_after: the reset gate multiplies
    (h_prev @ R_h + recurrent bias); otherwise it multiplies h_prev before R_h."""

    def __init__(self, R: Any, recurrent_bias: Any, reset_after: bool, activation: Activation,
                 recurrent_activation: Activation):
        super().__init__(R, activation, recurrent_activation)
        self.recurrent_bias = recurrent_bias
        self.reset_after = reset_after

    def forward(self, x: Any, states: list[Any]) -> tuple[list[Any], tuple]:
        B, U = self.B, self.units
        h = states[0]
        if self.reset_after:
            inner = B.matmul(h, self.R)
            if self.recurrent_bias is not None:
                inner = B.add(inner, self.recurrent_bias)
        else:
            inner = B.matmul(h, self.R[:, :2 * U])
        zpre = B.add(x[:, :U], inner[:, :U])
        rpre = B.add(x[:, U:2 * U], inner[:, U:2 * U])
        z = self.ra(zpre)
        r = self.ra(rpre)
        if self.reset_after:
            rec_in = inner[:, 2 * U:]  # h_prev @ R_h (+ bias), gated by r
            hpre = B.add(x[:, 2 * U:], B.multiply(r, rec_in))
        else:
            rec_in = B.multiply(r, h)  # r * h_prev, then @ R_h
            hpre = B.add(x[:, 2 * U:], B.matmul(rec_in, self.R[:, 2 * U:]))
        hh = self.a(hpre)
        h_new = B.add(B.multiply(z, h), B.multiply(B.subtract(1.0, z), hh))
        return [h_new], (h, zpre, rpre, z, r, rec_in, hpre, hh)

    def backward(self, d_new: list[Any], saved: tuple) -> tuple[Any, list[Any], list[tuple]]:
        B, U = self.B, self.units
        dh = d_new[0]
        h, zpre, rpre, z, r, rec_in, hpre, hh = saved
        dh_prev = B.multiply(dh, z)
        dzpre = self.dra(B.multiply(dh, B.subtract(h, hh)), zpre, z)
        dhpre = self.da(B.multiply(dh, B.subtract(1.0, z)), hpre, hh)
        RT = B.transpose(self.R)
        if self.reset_after:
            drpre = self.dra(B.multiply(dhpre, rec_in), rpre, r)
            dinner = B.concatenate([dzpre, drpre, B.multiply(dhpre, r)], axis=1)
            dh_prev = B.add(dh_prev, B.matmul(dinner, RT))
            dx = B.concatenate([dzpre, drpre, dhpre], axis=1)
            return dx, [dh_prev], [(h, dinner)]
        drec_in = B.matmul(dhpre, RT[2 * U:])
        drpre = self.dra(B.multiply(drec_in, h), rpre, r)
        dzr = B.concatenate([dzpre, drpre], axis=1)
        dh_prev = B.add(B.add(dh_prev, B.multiply(drec_in, r)), B.matmul(dzr, RT[:2 * U]))
        return B.concatenate([dzr, dhpre], axis=1), [dh_prev], [(h, dzr), (rec_in, dhpre)]

    def kernel_grads(self, pairs: list[list[tuple[Any, Any]]]) -> list[Any]:
        grads = super().kernel_grads(pairs)
        if self.reset_after and self.recurrent_bias is not None:
            dinner = self.B.stack([p[0][1] for p in pairs])
            grads.append(self.B.sum(self.B.reshape(dinner, (-1, dinner.shape[-1])), axis=0))
        return grads


# ---------------------------------------------------------------------------- the time loop
def _run(step: _Step, xp: Tensor, states: Sequence[Tensor], mask: Any, masked_output: str,
         weights: Sequence[Any], bias_grad: bool = False) -> list[Tensor]:
    """Run `step` over every time step of `xp`; returns [outputs (T, batch, units), last output,
    *final states] as Tensors sharing one backward."""
    if masked_output not in MASKED_OUTPUTS:
        raise ValueError(f"masked_output must be one of {MASKED_OUTPUTS}, got {masked_output!r}.")
    B = step.B
    X = data_of(xp)
    M = None if mask is None else data_of(mask)
    T = X.shape[0]
    if T == 0:
        raise ValueError("A recurrent layer needs at least one time step, got a sequence of length 0.")
    inputs = (xp, *states, *weights)
    record = needs_grad(inputs)
    cur = [data_of(s) for s in states]
    outs: list[Any] = []
    saved: list[tuple] = []
    zeros = None
    for t in range(T):
        new, keep = step.forward(X[t], cur)
        if record:
            saved.append(keep)
        if M is None:
            out, cur = new[0], new
        else:
            m = M[t][:, None]
            if masked_output == "carry":
                fallback = cur[0]
            elif masked_output == "zero" or not outs:
                zeros = B.zeros(new[0].shape, dtype=new[0].dtype) if zeros is None else zeros
                fallback = zeros
            else:
                fallback = outs[-1]
            out = B.where(m, new[0], fallback)
            cur = [B.where(m, n, s) for n, s in zip(new, cur)]
        outs.append(out)
    arrays = [B.stack(outs), outs[-1], *cur]

    def backward(grads: list[Any]) -> list[Any]:
        g_seq, g_last, *g_states = grads
        d = [g if g is not None else B.zeros(s.shape, dtype=s.dtype) for g, s in zip(g_states, cur)]
        d_out_carry = None
        dxs: list[Any] = [None] * T
        pairs: list[Any] = [None] * T
        for t in range(T - 1, -1, -1):
            go = g_seq[t] if g_seq is not None else None
            if t == T - 1 and g_last is not None:
                go = g_last if go is None else B.add(go, g_last)
            if d_out_carry is not None:
                go = d_out_carry if go is None else B.add(go, d_out_carry)
            d_keep = None
            if M is None:
                d_new = list(d)
                if go is not None:
                    d_new[0] = B.add(d_new[0], go)
            else:
                m = M[t][:, None]
                d_new = [B.where(m, ds, 0) for ds in d]
                d_keep = [B.where(m, 0, ds) for ds in d]
                if go is not None:
                    d_new[0] = B.add(d_new[0], B.where(m, go, 0))
                    if masked_output == "carry":
                        d_keep[0] = B.add(d_keep[0], B.where(m, 0, go))
                    elif masked_output == "unroll":
                        d_out_carry = B.where(m, 0, go)
            dxs[t], d, pairs[t] = step.backward(d_new, saved[t])
            if d_keep is not None:
                d = [B.add(a, b) for a, b in zip(d, d_keep)]
        dX = B.stack(dxs)
        weight_grads = step.kernel_grads(pairs)
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
    step = _GRUStep(data_of(recurrent_kernel), None if recurrent_bias is None else data_of(recurrent_bias),
                    reset_after, activation, recurrent_activation)
    weights = [recurrent_kernel] if recurrent_bias is None else [recurrent_kernel, recurrent_bias]
    return _run(step, xp, [h0], mask, masked_output, weights)
