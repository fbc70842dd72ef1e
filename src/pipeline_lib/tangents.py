"""Tangent spaces of a decoder's manifold (DMM App. D): the Jacobian of the decoder
at a code, by forward-mode autodiff (torch.func.jvp, vmapped over the code axes), and
its orthonormal basis."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import jvp, vmap

from .invariants import check_orthonormal

# a decoder module or any code -> image callable, e.g. an autoencoder's bound ``decode``
Decoder = Callable[[torch.Tensor], torch.Tensor]


class RankDeficientError(ValueError):
    """The decoder's Jacobian does not have full rank k at some code."""


# elementwise activations of the fast path: derivative from the layer's output y
_ACT_GRAD = {
    torch.nn.ReLU: lambda y: (y > 0).to(y.dtype),
    torch.nn.Sigmoid: lambda y: y * (1 - y),
    torch.nn.Tanh: lambda y: 1 - y * y,
}
_RESHAPES = (torch.nn.Flatten, torch.nn.Unflatten, torch.nn.Identity, torch.nn.Dropout)


def _mlp_layers(decoder: Decoder) -> list[torch.nn.Module] | None:
    """The layers of an eval-mode Sequential of Linear layers, ReLU / Sigmoid / Tanh,
    eval-mode Dropout and trailing reshapes (the MLP decoders), else None."""
    if not isinstance(decoder, torch.nn.Sequential) or decoder.training:
        return None
    layers = list(decoder)
    while layers and isinstance(layers[-1], _RESHAPES):  # trailing reshapes: flat output
        layers.pop()
    inner = (torch.nn.Linear, torch.nn.Dropout, torch.nn.Identity, *_ACT_GRAD)
    ok = bool(layers) and all(isinstance(m, inner) for m in layers)
    return layers if ok and isinstance(layers[0], torch.nn.Linear) else None


@torch.no_grad()
def _mlp_jacobian(layers: list[torch.nn.Module], codes: torch.Tensor) -> torch.Tensor:
    """Forward-mode Jacobian of an MLP by hand: the (N, k, width) tangents go through
    each Linear as one (N*k, width) matmul and are scaled by each activation's
    derivative; the primal pass runs once on the N codes. Exactly the arithmetic of
    decoding N*(k+1) codes, without autodiff's bookkeeping."""
    n, k = codes.shape
    h = codes
    tan = None  # (N, k, width); None stands for the identity (the codes' own tangents)
    for m in layers:
        if isinstance(m, torch.nn.Linear):
            h = m(h)
            w = m.weight.t()  # (in, out)
            tan = (
                w.expand(n, -1, -1)
                if tan is None
                else (tan.reshape(n * k, -1) @ w).reshape(n, k, -1)
            )
        elif type(m) in _ACT_GRAD:
            h = m(h)
            tan = tan * _ACT_GRAD[type(m)](h)[:, None, :]
    return tan.contiguous().transpose(1, 2)  # (N, n_features, k) view of (N, k, n_features)


def decoder_jacobian(decoder: Decoder, codes: torch.Tensor) -> torch.Tensor:
    """``d decoder(c) / d c`` for each code: shape (N, n_features, k).

    MLP decoders (an eval-mode ``nn.Sequential`` of Linear, ReLU / Sigmoid / Tanh and
    reshapes) take a direct forward-mode pass (:func:`_mlp_jacobian`). Any other
    decoder: one forward-mode JVP per code axis (``torch.func.jvp``), vmapped over the
    k axes, so its primal pass runs once on the N codes and its tangent pass once,
    batched over all N*k directions (about the cost of decoding N*(k+1) codes); such a
    decoder must treat the samples of a batch independently (any eval-mode network
    does). Either way the result is a transposed view of (N, k, n_features) memory:
    column-major matrices, the layout LAPACK's QR wants."""
    layers = _mlp_layers(decoder)
    if layers is not None:
        return _mlp_jacobian(layers, codes)
    n, k = codes.shape
    eye = torch.eye(k, dtype=codes.dtype, device=codes.device)

    def along(direction: torch.Tensor) -> torch.Tensor:
        return jvp(lambda c: decoder(c).reshape(n, -1), (codes,), (direction.expand(n, k),))[1]

    cols = vmap(along)(eye)  # (k, N, n_features)
    return cols.permute(1, 0, 2).contiguous().transpose(1, 2)


def orthonormal_basis(jac: torch.Tensor, rtol: float = 1e-6) -> torch.Tensor:
    """Orthonormal rows spanning each Jacobian's column space: (N, k, n_features).

    Raises :class:`RankDeficientError` when a Jacobian's k columns are (numerically)
    linearly dependent, since the basis would then not span a k-dimensional space.
    """
    q, r = torch.linalg.qr(jac)  # (N, n, k), (N, k, k)
    diag = r.diagonal(dim1=1, dim2=2).abs()
    scale = diag.amax(1, keepdim=True).clamp_min(torch.finfo(jac.dtype).tiny)
    bad = (diag <= rtol * scale).any(1)
    if bad.any():
        idx = bad.nonzero()[:, 0].tolist()
        raise RankDeficientError(
            f"decoder Jacobian is rank-deficient for samples {idx[:10]}: the code dimension "
            "is larger than the local dimension of the decoder's manifold there"
        )
    basis = q.transpose(1, 2).contiguous()
    check_orthonormal(basis, "tangent basis (QR of the decoder Jacobian)")
    return basis


@torch.no_grad()
def finite_difference_jacobian(
    decoder: Decoder, codes: torch.Tensor, h: float = 1e-3
) -> torch.Tensor:
    """App. D.2: ``(decode(c + h e_i) - decode(c)) / h`` for each code axis i."""
    n, k = codes.shape
    base = decoder(codes).reshape(n, -1)
    cols = []
    for i in range(k):
        step = torch.zeros_like(codes)
        step[:, i] = h
        cols.append((decoder(codes + step).reshape(n, -1) - base) / h)
    return torch.stack(cols, dim=-1)


def tangent_bases(decoder: Decoder, codes: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """Orthonormal tangent bases (N, k, n_features), computed ``chunk`` codes at a time."""
    return torch.cat(
        [
            orthonormal_basis(decoder_jacobian(decoder, codes[i : i + chunk]).detach())
            for i in range(0, codes.shape[0], chunk)
        ]
    )


def principal_cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosines of the principal angles between row spaces of orthonormal (N, k, n) bases:
    all ones when the two spaces coincide."""
    return torch.linalg.svdvals(a @ b.transpose(1, 2))


def tangent_decoder(ae: torch.nn.Module) -> Decoder:
    """What to differentiate for an autoencoder's tangent bases: the decoder module of an
    MLP autoencoder (whose ``decode`` is exactly that module, so the fast path applies),
    else the autoencoder's ``decode``."""
    from .models import MLPAutoencoder

    return ae.decoder if isinstance(ae, MLPAutoencoder) else ae.decode
