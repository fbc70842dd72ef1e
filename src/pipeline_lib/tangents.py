"""Tangent spaces of a decoder's manifold (DMM App. D): the Jacobian of the decoder
at a code, by forward-mode autodiff (torch.func.jacfwd, vmapped over samples), and
its orthonormal basis."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import jacfwd, vmap

from .invariants import check_orthonormal

# a decoder module or any code -> image callable, e.g. an autoencoder's bound ``decode``
Decoder = Callable[[torch.Tensor], torch.Tensor]


class RankDeficientError(ValueError):
    """The decoder's Jacobian does not have full rank k at some code."""


def decoder_jacobian(decoder: Decoder, codes: torch.Tensor) -> torch.Tensor:
    """``d decoder(c) / d c`` for each code: shape (N, n_features, k)."""

    def flat(c: torch.Tensor) -> torch.Tensor:
        return decoder(c[None]).reshape(-1)

    return vmap(jacfwd(flat))(codes)


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
