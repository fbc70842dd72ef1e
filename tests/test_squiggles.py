import math

import numpy as np
import pytest
import torch

from pipeline_lib.studies.squiggles import generators as sq
from pipeline_lib.tangents import decoder_jacobian
from pipeline_lib.zarr_io import open_store, write_store


@pytest.fixture(scope="module")
def small_sets():
    """Tiny train/test sets per variant (resolution 16 keeps them fast)."""
    return {
        v: {s: sq.make_dataset(v, 150, 7, s, resolution=16) for s in ("train", "test")}
        for v in sq.VARIANTS
    }


def close(actual, desired, rtol=1e-7, atol=0.0):
    """np.testing.assert_allclose on tensors or arrays (torch.testing costs ~2 s to import)."""

    def arr(x):
        return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else x

    np.testing.assert_allclose(arr(actual), arr(desired), rtol=rtol, atol=atol)


def naive_render(points: torch.Tensor, n: int) -> torch.Tensor:
    """App. A.3 steps 3-4 literally: X_ijk for every point, then the max over k."""
    g = torch.arange(n, dtype=torch.float64) / (n - 1)
    c = points.to(torch.float64)
    dx = g[None, :, None, None] - c[:, None, None, :, 0]
    dy = g[None, None, :, None] - c[:, None, None, :, 1]
    x = torch.exp(-1.0 / (1.0 / n) ** 2 * (dx**2 + dy**2))
    return x.amax(-1)[:, None]


def test_latent_dims_and_names():
    assert sq.VARIANTS == ("taylor", "sinenet")
    assert sq.latent_dim("taylor") == 14 and sq.latent_dim("sinenet") == 1200
    parts, terms = sq.latent_names("taylor")
    assert parts[:7] == ["a"] * 7 and parts[7:] == ["b"] * 7 and terms[:7] == list(range(1, 8))
    with pytest.raises(ValueError, match="unknown Squiggles variant"):
        sq.latent_dim("mnist")
    # A.1.3: Taylor t values are -3, -3 + 2/33, ..., 3
    t = sq.t_values("taylor")
    assert len(t) == 100 and t[0] == -3 and t[-1] == 3
    np.testing.assert_allclose(np.diff(t), 2 / 33)
    np.testing.assert_allclose(sq.t_values("sinenet")[[0, -1]], [-2, 2])


def test_latent_distributions():
    z = sq.sample_latents("taylor", 4000, 0)
    assert z.shape == (4000, 14) and z.dtype == torch.float32
    assert z.min() >= -1 and z.max() <= 1
    assert abs(z.mean()) < 0.02 and abs(z.var() - 1 / 3) < 0.01  # U[-1, 1]: var 1/3
    z = sq.sample_latents("sinenet", 400, 0)
    assert z.shape == (400, 1200)
    abw, phi = z[:, :900], z[:, 900:]
    assert abs(abw.mean()) < 0.01 and abs(abw.std() - 1) < 0.01
    assert abs(abw.pow(3).mean()) < 0.05 and abs(abw.pow(4).mean() - 3) < 0.1  # normal
    assert phi.min() >= 0 and phi.max() < 2 * math.pi
    assert abs(phi.mean() - math.pi) < 0.02
    hist = torch.histc(phi, bins=8, min=0, max=2 * math.pi) / phi.numel()
    assert (hist - 1 / 8).abs().max() < 0.01


def test_sampling_deterministic_and_prefix_stable():
    for v in sq.VARIANTS:
        a = sq.sample_latents(v, 30, 3)
        assert torch.equal(a, sq.sample_latents(v, 30, np.random.SeedSequence(3)))
        assert torch.equal(a[:10], sq.sample_latents(v, 10, np.random.default_rng(3)))
        assert not torch.equal(a, sq.sample_latents(v, 30, 4))
    f64 = sq.sample_latents("sinenet", 5, 3, dtype=torch.float64)
    close(f64.float(), sq.sample_latents("sinenet", 5, 3), rtol=0)
    with pytest.raises(TypeError):
        sq.sample_latents("taylor", 3, torch.Generator())


@pytest.mark.parametrize("variant", sq.VARIANTS)
def test_curve_points_rescaled_and_centred(variant):
    z = sq.sample_latents(variant, 64, 1)
    p = sq.curve_points(variant, z)
    assert p.shape == (64, 100, 2) and p.dtype == torch.float32
    p = p.double()
    hi, lo = p.amax(1), p.amin(1)
    assert lo.min() >= 0.1 - 1e-6 and hi.max() <= 0.9 + 1e-6
    close((hi - lo).amax(1), np.full(64, 0.8), rtol=1e-6)
    close((hi + lo) / 2, np.full((64, 2), 0.5), rtol=1e-6)
    # the shape is Theta_z(t) up to the positive scaling + translation of A.3
    t = torch.from_numpy(sq.t_values(variant))
    zz = z[0].double()
    if variant == "taylor":
        raw = torch.stack(
            [sum(zz[o + i - 1] * t**i / math.factorial(i) for i in range(1, 8)) for o in (0, 7)],
            -1,
        )
    else:
        a, b, w, ph = zz.reshape(4, 300)
        s = torch.sin(w[:, None] * t + ph[:, None])
        raw = torch.stack([a @ s, b @ s], -1)
    scale = 0.8 / (raw.amax(0) - raw.amin(0)).max()
    ref = (raw - (raw.amax(0) + raw.amin(0)) / 2) * scale + 0.5
    close(p[0], ref, atol=2e-6, rtol=0)
    # the same points in float64
    close(sq.curve_points(variant, z.double())[0], ref, rtol=1e-12, atol=1e-14)


def test_degenerate_curve_no_nan():
    z = torch.zeros(2, 14, dtype=torch.float64, requires_grad=True)  # all points at 0
    p = sq.curve_points("taylor", z)
    assert torch.equal(p.detach(), torch.full_like(p, 0.5))
    img = sq.render(p, 12)
    img.sum().backward()
    assert torch.isfinite(img).all() and torch.isfinite(z.grad).all()
    # SineNet with omega = 0: a constant curve away from the origin
    z = sq.sample_latents("sinenet", 1, 0, dtype=torch.float64)
    z[:, 600:900] = 0
    p = sq.curve_points("sinenet", z)
    close(p, np.full(p.shape, 0.5), rtol=1e-12)
    assert sq.labels(p).tolist() == [0]


def test_render_single_point_closed_form():
    n, (cx, cy) = 10, (0.3, 0.75)
    img = sq.render(torch.tensor([[[cx, cy]]], dtype=torch.float64), resolution=n)
    assert img.shape == (1, 1, n, n)
    i = np.arange(n)[:, None]  # row index -> x (paper's X_ij, i - 1 = 0..n-1)
    j = np.arange(n)[None, :]
    want = np.exp(-(n**2) * ((i / (n - 1) - cx) ** 2 + (j / (n - 1) - cy) ** 2))
    np.testing.assert_allclose(img[0, 0].numpy(), want, rtol=1e-13, atol=0)
    # peak 1.0 on a pixel centre; custom sigma
    on = torch.tensor([[[2 / 9, 7 / 9]]], dtype=torch.float64)
    img = sq.render(on, resolution=10, sigma=0.2)
    assert img[0, 0, 2, 7] == 1.0 and img.argmax() == 2 * 10 + 7
    np.testing.assert_allclose(img[0, 0, 3, 7].item(), math.exp(-((1 / 9) ** 2) / 0.04))


def test_render_matches_naive_both_paths_and_chunks():
    g = torch.Generator().manual_seed(0)
    pts = torch.rand(7, 30, 2, generator=g, dtype=torch.float64) * 0.8 + 0.1
    want = naive_render(pts, 20)
    fast = sq.render(pts, 20)
    grad_path = sq.render(pts, 20, differentiable=True)
    close(fast, want, rtol=1e-12)
    close(grad_path, want, rtol=1e-12)
    assert torch.equal(sq.render(pts, 20, chunk=3), fast)
    f32 = pts.float()
    close(sq.render(f32, 20), sq.render(f32, 20, differentiable=True), rtol=1e-6)
    close(sq.render(f32, 20), want, rtol=1e-5, atol=1e-6)
    # the gradient path is chosen automatically when points require grad
    out = sq.render(pts.clone().requires_grad_(True), 20)
    assert out.requires_grad


def test_render_gradcheck():
    g = torch.Generator().manual_seed(1)
    pts = torch.rand(2, 6, 2, generator=g, dtype=torch.float64) * 0.8 + 0.1
    pts.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: sq.render(p, 9), (pts,))
    assert torch.autograd.gradcheck(lambda p: sq.render(p, 9, sigma=0.3), (pts,))


@pytest.mark.parametrize("variant", sq.VARIANTS)
def test_curve_points_and_decode_gradcheck(variant):
    z = sq.sample_latents(variant, 2 if variant == "taylor" else 1, 5, dtype=torch.float64)
    z.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: sq.curve_points(variant, z, n_points=15), (z,))
    if variant == "taylor":
        assert torch.autograd.gradcheck(
            lambda z: sq.decode(variant, z, resolution=10, n_points=15), (z,)
        )


def test_decoder_forward_mode_jacobian_matches_reverse_mode():
    z = sq.sample_latents("taylor", 3, 2, dtype=torch.float64)

    def dec(c):
        return sq.decode("taylor", c, resolution=12, n_points=30)

    jac = decoder_jacobian(dec, z)  # vmap(jacfwd) as used for tangent bases
    assert jac.shape == (3, 144, 14)
    for k in range(3):
        rev = torch.autograd.functional.jacobian(lambda c: dec(c[None]).reshape(-1), z[k])
        close(jac[k], rev, rtol=1e-10, atol=1e-12)
    assert (jac.abs().sum((1, 2)) > 0).all()
    # the 0.8-extent rescale makes Taylor scale-invariant (points(l z) = points(z), l > 0):
    # z itself spans the Jacobian's kernel, so the decoder's rank is 13, not 14
    close(jac @ z[..., None], np.zeros((3, 144, 1)), atol=1e-10)
    assert (torch.linalg.matrix_rank(jac) == 13).all()


def test_labels_hand_made_curves():
    simple = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)]  # open U: no contact
    crossing = [(0.1, 0.1), (0.9, 0.9), (0.9, 0.1), (0.1, 0.9)]  # one crossing
    touching = [(0.1, 0.1), (0.9, 0.1), (0.5, 0.5), (0.5, 0.1)]  # vertex on segment 1
    end_on_curve = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.5, 0.9), (0.5, 0.1)]
    repeated = [(0.1, 0.1), (0.5, 0.1), (0.5, 0.1), (0.9, 0.9)]  # consecutive duplicate
    revisit = [(0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.5), (0.5, 0.1), (0.9, 0.1)]
    closed = [(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.1)]  # ring: simple in GEOS
    curves = [simple, crossing, touching, end_on_curve, repeated, revisit, closed]
    for c, want in zip(curves, [0, 1, 1, 1, 0, 1, 0], strict=True):
        assert sq.labels(np.array([c]))[0] == want, c
    batch = np.array([simple, crossing, touching])
    out = sq.labels(batch)
    assert out.dtype == np.int8 and out.tolist() == [0, 1, 1]
    assert sq.labels(torch.tensor(batch, requires_grad=True)).tolist() == [0, 1, 1]
    # 100-point curves: a circle arc (simple) and a figure eight (one crossing)
    t = np.linspace(0, 1.5 * np.pi, 100)
    arc = np.stack([np.cos(t), np.sin(t)], -1)
    t = np.linspace(0, 2 * np.pi, 101)[:-1]
    eight = np.stack([np.sin(t), np.sin(t) * np.cos(t)], -1)
    assert sq.labels(np.stack([arc, eight])).tolist() == [0, 1]
    with pytest.raises(ValueError, match="NaN"):
        sq.labels(np.full((1, 3, 2), np.nan))


def test_make_dataset_layout(small_sets, tmp_path):
    ds = small_sets["taylor"]["train"]
    assert dict(ds.sizes) == {
        "sample": 150,
        "latent_dim": 14,
        "point": 100,
        "xy": 2,
        "channel": 1,
        "row": 16,
        "col": 16,
    }
    assert ds.latent.dims == ("sample", "latent_dim")
    assert ds.points.dims == ("sample", "point", "xy")
    assert ds.image.dims == ("sample", "channel", "row", "col")
    assert ds.label.dims == ("sample",)
    for name in ("latent", "points", "image", "label"):
        assert ds[name].attrs["description"]
    assert ds.image.dtype == np.float32 and ds.points.dtype == np.float32
    assert set(np.unique(ds.label.values)) <= {0, 1}
    assert {k: ds.attrs[k] for k in ("variant", "seed", "split", "resolution")} == {
        "variant": "taylor",
        "seed": 7,
        "split": "train",
        "resolution": 16,
    }
    # the stored pieces are consistent with the API
    z = torch.from_numpy(ds.latent.values)
    p = sq.curve_points("taylor", z)
    np.testing.assert_array_equal(ds.points.values, p.numpy())
    np.testing.assert_array_equal(ds.image.values, sq.render(p, 16).numpy())
    np.testing.assert_array_equal(ds.label.values, sq.labels(p))
    assert torch.equal(z, sq.sample_latents("taylor", 150, sq.seed_sequence("taylor", 7, "train")))
    img = ds.image.values
    assert img.min() >= 0 and img.max() <= 1 and (img.max((1, 2, 3)) > 0.5).all()
    sine = small_sets["sinenet"]["test"]
    assert sine.sizes["latent_dim"] == 1200 and sine.attrs["split"] == "test"
    assert list(sine.latent_part.values[[0, 300, 600, 900]]) == ["a", "b", "omega", "phi"]
    write_store(ds, tmp_path / "sq.zarr", "squiggles test", {"test": True})
    back = open_store(tmp_path / "sq.zarr")
    np.testing.assert_array_equal(back.image.values, ds.image.values)


@pytest.mark.parametrize("variant", sq.VARIANTS)
def test_train_test_disjoint_and_deterministic(small_sets, variant):
    tr, te = small_sets[variant]["train"], small_sets[variant]["test"]
    zt, zs = tr.latent.values, te.latent.values
    # no test latent equals any training latent
    assert not (zt[:, None, :] == zs[None, :, :]).all(-1).any()
    it, is_ = tr.image.values.reshape(150, -1), te.image.values.reshape(150, -1)
    assert not (it[:, None, :] == is_[None, :, :]).all(-1).any()
    again = sq.make_dataset(variant, 150, 7, "train", resolution=16)
    for name in ("latent", "points", "image", "label"):
        np.testing.assert_array_equal(again[name].values, tr[name].values)
    other = sq.make_dataset(variant, 20, 8, "train", resolution=16)
    assert not np.array_equal(other.latent.values, zt[:20])
    shard1 = sq.make_dataset(variant, 20, 7, "train", resolution=16, shard=1).latent.values
    assert not (shard1[:, None, :] == zt[None, :, :]).all(-1).any()
    with pytest.raises(ValueError, match="unknown split"):
        sq.seed_sequence(variant, 7, "dev")


def test_label_distribution(small_sets):
    for v in sq.VARIANTS:
        ds = small_sets[v]["train"]
        d = sq.label_distribution(ds)
        lab = ds.label.values
        assert d["variant"] == v and d["n"] == 150
        assert d["n_self_intersecting"] == int(lab.sum())
        assert d["n_non_intersecting"] + d["n_self_intersecting"] == 150
        assert d["self_intersecting"] == pytest.approx(lab.mean())
        assert d["non_intersecting"] + d["self_intersecting"] == pytest.approx(1)
        # both classes occur (the paper: self-intersecting curves are less common)
        assert 0 < d["self_intersecting"] < 1
