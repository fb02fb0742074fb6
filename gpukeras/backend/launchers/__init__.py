"""One launch wrapper per CUDA kernel in kernels/*.cu, grouped by the file that declares the kernel.

`CudaKernels` builds them all for one CuPy backend; `launchers()` lists every one, and the tests
check that list against `kernels.catalogue()` (what the files declare): no kernel without its
launcher, no launcher without its kernel.
"""

from __future__ import annotations

import gpukeras.backend.kernels as K
from gpukeras.backend.launchers.activations import (
    ActivationBackward,
    ActivationForward,
    RowSoftmaxBackward,
    RowSoftmaxForward,
)
from gpukeras.backend.launchers.attention import AttentionKernels
from gpukeras.backend.launchers.base import Device, Launcher
from gpukeras.backend.launchers.convolution_family import ConvolutionFamilyKernels
from gpukeras.backend.launchers.dense import BiasGradientFinish, EpilogueBackward, EpilogueForward
from gpukeras.backend.launchers.dropout import Dropout, DropoutMask
from gpukeras.backend.launchers.gemm import Gemm
from gpukeras.backend.launchers.image import AffineSample
from gpukeras.backend.launchers.normalization import NormalizationKernels
from gpukeras.backend.launchers.optimizers import MultiTensorUpdate, TensorTables
from gpukeras.backend.launchers.pooling import Col2imAdd, PoolBackward, PoolForward
from gpukeras.backend.launchers.recurrent import RecurrentKernels
from gpukeras.backend.launchers.softmax_xent import (
    SigmoidBceBackward,
    SigmoidBceForward,
    SparseXentBackward,
    SparseXentForward,
)


class CudaKernels:
    """Every kernel launcher of one CuPy backend, sharing its `Device` (and the optimizer table cache)."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.act_fwd = ActivationForward(device)
        self.act_bwd = ActivationBackward(device)
        self.softmax_fwd = {n: RowSoftmaxForward(device, f"gk_{n}_fwd") for n in ("softmax", "log_softmax")}
        self.softmax_bwd = {n: RowSoftmaxBackward(device, f"gk_{n}_bwd") for n in ("softmax", "log_softmax")}
        self.epilogue_fwd = EpilogueForward(device)
        self.epilogue_bwd = EpilogueBackward(device, BiasGradientFinish(device))
        self.sxent_fwd = SparseXentForward(device)
        self.sxent_bwd = SparseXentBackward(device)
        self.sbce_fwd = SigmoidBceForward(device)
        self.sbce_bwd = SigmoidBceBackward(device)
        self.dropout_mask = DropoutMask(device)
        self.dropout = Dropout(device)
        self.pool_fwd = {m: PoolForward(device, f"gk_{k}_pool2d_fwd") for m, k in (("max", "max"), ("average", "avg"))}
        self.pool_bwd = {m: PoolBackward(device, f"gk_{k}_pool2d_bwd") for m, k in (("max", "max"), ("average", "avg"))}
        self.col2im = Col2imAdd(device)
        self.norm = NormalizationKernels(device)
        self.affine_sample = AffineSample(device)
        self.vision = ConvolutionFamilyKernels(device)  # depthwise conv, bilinear up-sampling, direct conv dx
        self.attention = AttentionKernels(device)
        self.recurrent = RecurrentKernels(device)
        self.gemm = Gemm(device)  # matrix products inside captured CUDA graphs (no cuBLAS there)
        self.tables = TensorTables()
        self.optimizers = {name: MultiTensorUpdate(device, name, self.tables)
                           for name, spec in K.catalogue().items() if spec.file == "optimizers.cu"}

    def launchers(self) -> list[Launcher]:
        """Every launcher held here, once each."""
        found = [self.act_fwd, self.act_bwd, *self.softmax_fwd.values(), *self.softmax_bwd.values(),
                 self.epilogue_fwd, self.epilogue_bwd, self.epilogue_bwd.finish, self.sxent_fwd, self.sxent_bwd,
                 self.sbce_fwd, self.sbce_bwd, self.dropout_mask, self.dropout, *self.pool_fwd.values(),
                 *self.pool_bwd.values(), self.col2im, *self.norm.launchers(), *self.optimizers.values(),
                 *self.attention.launchers(), *self.recurrent.launchers(), *self.vision.launchers()]
        found.append(self.affine_sample)
        found += [self.gemm, self.gemm.finish]
        return found


__all__ = ["CudaKernels", "Device", "Launcher"]
