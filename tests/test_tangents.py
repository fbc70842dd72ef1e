import numpy as np
import pytest
import torch

from pipeline_lib.tangents import (
    RankDeficientError,
    decoder_jacobian,
    finite_difference_jacobian,
    orthonormal_basis,
    principal_cosines,
    tangent_bases,
)


def _mlp_decoder(k=4, n=30, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(k, 32), torch.nn.Tanh(), torch.nn.Linear(32, n), torch.nn.Sigmoid()
    ).double()


def test_linear_decoder_basis_spans_its_columns():
    torch.manual_seed(1)
    lin = torch.nn.Linear(3, 12).double()
    codes = torch.randn(5, 3, dtype=torch.float64)
    basis = tangent_bases(lin, codes)
    assert basis.shape == (5, 3, 12)
    eye = torch.eye(3, dtype=torch.float64).expand(5, 3, 3)
    torch.testing.assert_close(basis @ basis.transpose(1, 2), eye)
    # projector onto span(W's columns) equals the basis projector
    q, _ = torch.linalg.qr(lin.weight.detach())
    proj = q @ q.T
    for b in basis:
        torch.testing.assert_close(b.T @ b, proj)


def test_forward_mode_matches_finite_differences():
    dec = _mlp_decoder()
    codes = torch.randn(6, 4, dtype=torch.float64)
    jac = decoder_jacobian(dec, codes)
    assert jac.shape == (6, 30, 4)
    fd = finite_difference_jacobian(dec, codes, h=1e-6)
    np.testing.assert_allclose(jac.detach(), fd, rtol=1e-4, atol=1e-7)
    cos = principal_cosines(orthonormal_basis(jac), orthonormal_basis(fd))
    np.testing.assert_allclose(cos.detach(), 1.0, atol=1e-6)


def test_chunking_does_not_change_the_result():
    dec = _mlp_decoder()
    codes = torch.randn(10, 4, dtype=torch.float64)
    torch.testing.assert_close(tangent_bases(dec, codes, chunk=3), tangent_bases(dec, codes))


def test_rank_deficient_decoder_is_reported():
    class Degenerate(torch.nn.Module):
        def forward(self, c):  # the last code axis is ignored
            return torch.cat([c[:, :2], c[:, :2] ** 2], dim=1)

    with pytest.raises(RankDeficientError, match="rank-deficient"):
        tangent_bases(Degenerate(), torch.randn(3, 3, dtype=torch.float64))


def test_mlp_fast_path_equals_autodiff():
    """Eval-mode MLP decoders take the hand-written forward-mode pass; it must equal
    torch.func's JVPs (the generic path, reached through a plain callable)."""
    from pipeline_lib.tangents import _mlp_layers

    torch.manual_seed(3)
    nn = torch.nn
    dec = nn.Sequential(
        nn.Linear(5, 24),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(24, 16),
        nn.Tanh(),
        nn.Linear(16, 12),
        nn.Sigmoid(),
        nn.Unflatten(1, (3, 4)),
    ).double()
    codes = torch.randn(7, 5, dtype=torch.float64)
    assert _mlp_layers(dec) is None  # training mode (dropout active): generic path
    dec.eval()
    assert _mlp_layers(dec) is not None
    fast = decoder_jacobian(dec, codes)
    generic = decoder_jacobian(lambda c: dec(c), codes)
    assert fast.shape == generic.shape == (7, 12, 5)
    torch.testing.assert_close(fast, generic, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(
        tangent_bases(dec, codes), tangent_bases(lambda c: dec(c), codes), rtol=1e-10, atol=1e-12
    )
    lin = nn.Linear(3, 6).double().eval()
    one = decoder_jacobian(nn.Sequential(lin).eval(), codes[:, :3])
    torch.testing.assert_close(one, lin.weight.detach().expand(7, 6, 3))
    conv = nn.Sequential(nn.Linear(5, 16), nn.Unflatten(1, (1, 4, 4)), nn.Conv2d(1, 1, 3)).eval()
    assert _mlp_layers(conv) is None  # not an MLP: generic path
