"""pipeline_lib.models.batched: the project's one batched-inference helper."""

import pytest
import torch
from torch import nn

from pipeline_lib.models import batched


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.Tanh(), nn.Linear(7, 3)).eval()


def _x(n: int = 11) -> torch.Tensor:
    return torch.rand(n, 1, 3, 4, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("batch", [1, 4, 11, 100])
def test_equals_a_hand_written_loop_bitwise(batch):
    m, x = _mlp(), _x()
    with torch.no_grad():
        loop = torch.cat([m(x[i : i + batch]).softmax(1) for i in range(0, len(x), batch)])
    out = batched(m, x, batch, lambda o: o.softmax(1))
    assert out.dtype == loop.dtype and torch.equal(out, loop)
    assert torch.equal(
        batched(m, x, batch),
        torch.cat([m(x[i : i + batch]) for i in range(0, len(x), batch)]).detach(),
    )


def test_no_grad_and_mode_untouched():
    m = _mlp().train()
    out = batched(m, _x(), 4)
    assert not out.requires_grad and m.training
    assert all(p.requires_grad for p in m.parameters())


def test_fn_may_change_shape_and_dtype():
    m, x = _mlp(), _x()
    pred = batched(m, x, 3, lambda o: o.argmax(1))
    assert pred.dtype == torch.long and pred.shape == (11,)
    with torch.no_grad():
        assert torch.equal(pred, m(x).argmax(1))


def test_plain_callable_and_parameterless_module_are_not_moved():
    seen = []

    def enc(xb):
        seen.append(xb.device)
        return xb.flatten(1)[:, :2]

    x = _x()
    assert torch.equal(batched(enc, x, 5), x.flatten(1)[:, :2])
    assert seen == [x.device] * 3
    assert torch.equal(batched(nn.Flatten(), x, 5), x.flatten(1))
    assert torch.equal(batched(nn.Flatten(), x, 5, device="cpu"), x.flatten(1))


def test_empty_input_keeps_trailing_shape_and_dtype():
    m = _mlp()
    out = batched(m, _x()[:0], 4)
    assert out.shape == (0, 3) and out.dtype == torch.float32
    assert batched(m, _x()[:0], 4, lambda o: o.argmax(1)).shape == (0,)


def test_bad_batch():
    with pytest.raises(ValueError, match="batch"):
        batched(_mlp(), _x(), 0)
