"""The Squiggles data generator (Kindermans & Staats, "When adversarial examples are
excusable", Sec. 2 and Appendix A): latent -> 100 curve points -> image, and the
self-intersection label.

The path ``latent -> points -> image`` is made of ordinary torch operations, so it is
differentiable in reverse and forward mode and works under ``torch.func.vmap`` /
``jacfwd``: :func:`decode` is the exact decoder of the Squiggles manifold (used for
tangent bases and latent-space attacks). Note that the 0.8-extent rescale makes the
decoder invariant to scaling the curve's amplitudes (Taylor z, SineNet (a, b)), so
its Jacobian has a kernel: Taylor's rank is 13 of 14; SineNet's is numerically far
below 1200 (its curves are band-limited). The label is the only non-differentiable
step, as in the paper ("The only component that is not continuous and piecewise
differentiable is the computation of the label").

Variants (App. A.1)
-------------------
``taylor``
    ``z = (a, b)`` in R^{2x7}, ``a, b ~ U[-1, 1]^7`` and
    ``Theta(t) = (sum_i a_i t^i / i!, sum_i b_i t^i / i!)``, i = 1..7, ``-3 <= t <= 3``.
    Flattened latent (14): ``[a_1..a_7, b_1..b_7]``.
``sinenet``
    ``z = (a, b, omega, phi)`` with n = 300, ``a, b, omega ~ N(0, 1)``,
    ``phi ~ U[0, 2 pi)`` and ``Theta(t) = sum_i (a_i, b_i) sin(omega_i t + phi_i)``,
    ``-2 <= t <= 2``. Flattened latent (1200): ``[a(300), b(300), omega(300), phi(300)]``.

Curve points (A.1.3) are ``Theta`` at ``n_points`` (100) equally spaced t values
including both ends: for Taylor ``-3, -3 + 2/33, ..., 3`` exactly as the paper lists.

Choices where the paper's text leaves room (each also noted where it is made):

* Rescale and centre (A.3 steps 1-2): the paper scales about the origin, ``c -> 0.8 /
  extent * c``, then translates by ``(1 - max c - min c) / 2`` per axis. We compute the
  algebraically identical ``0.8 * (c - mid) / extent + 0.5`` with
  ``mid = (max c + min c) / 2`` per axis: the two-step form loses all precision when the
  curve is tiny but far from the origin (e.g. SineNet with all omega near 0). The
  extent is floored at :data:`EXTENT_FLOOR` (1e-12), so a degenerate curve (all points
  equal, e.g. the Taylor code z = 0) becomes the single point (0.5, 0.5) with finite
  gradients instead of NaN; no sampled latent comes anywhere near the floor.
* Rendering (A.3 step 3): the paper's formula is
  ``X_ijk = exp(-((i-1)/(n-1) - c_kx)^2 + ((j-1)/(n-1) - c_ky)^2) / (1/n)^2)``
  (confirmed by A.3.1: ``exp(-n^2 d^2)``). So pixel (i, j) has its centre at
  ``((i-1)/(n-1), (j-1)/(n-1))``: the centres span [0, 1] inclusive, spaced 1/(n-1),
  while the RBF length scale is 1/n. The *row* index i goes with the x coordinate
  and the column index j with y, as in the formula (imshow therefore shows the
  curve transposed; labels are unaffected). ``sigma`` in :func:`render` is this length
  scale, ``X = exp(-d^2 / sigma^2)``, default ``1 / resolution`` (the Gaussian's
  standard deviation is ``sigma / sqrt 2``).
* Max over points (step 4): ``max_k exp(-d_k^2 / s^2) = exp(-min_k d_k^2 / s^2)`` since
  exp is monotone, so we take the nearest point and one exp per pixel. When gradients
  are needed, the nearest point's index is found without gradient and its squared
  distance recomputed from the gathered coordinates, which gives the max's exact
  subgradient (the gradient of a pixel flows to its nearest curve point only, as in
  max pooling) and keeps only an index per pixel for the backward pass.
* Label (A.2): "Using the Shapely package we evaluate whether the piecewise-linear
  curve that connects these points sequentially is self-intersecting". We take
  ``label = 1`` iff ``not shapely.is_simple(LineString(points))`` (GEOS, OGC
  simplicity). So a proper crossing, a vertex touching another (non-adjacent) segment,
  an end point touching the curve, a repeated non-consecutive point and a segment
  doubling back over the previous one all count as self-intersecting; repeated
  *consecutive* points are ignored; a closed curve whose only contact is first point
  == last point counts as simple (a ring), as does a fully degenerate curve (all
  points equal). The last three have probability zero under both latent laws.
* Precision: latents, points and images are float32 by default (A.3.1 discusses "the
  32-bit floats that are used for the actual implementation"); every function computes
  in the dtype of its input, so float64 works (e.g. for gradcheck). Labels are computed
  from the float32 points that are stored, converted exactly to float64.
* Sampling (see :func:`sample_latents`): every latent coordinate is a transform of one
  uniform double, drawn row-major, so a sample depends only on its position in the
  stream (``n = 1000`` is a prefix of ``n = 10000``). phi is ``2 pi u`` clamped to the
  largest representable value below 2 pi so that it stays in [0, 2 pi) after rounding
  to float32 (the paper writes ``[0, 2 pi]^n`` and "a uniform distribution").
"""

from __future__ import annotations

import math

import numpy as np
import shapely
import torch
import xarray as xr

from pipeline_lib.zarr_io import var

VARIANTS = ("taylor", "sinenet")
SPLITS = ("train", "test", "val")
TAYLOR_ORDER = 7  # A.1.1: n = 7
SINENET_UNITS = 300  # A.1.2: n = 300
T_RANGE = {"taylor": (-3.0, 3.0), "sinenet": (-2.0, 2.0)}
N_POINTS = 100  # A.1.3
EXTENT = 0.8  # A.3 step 1
EXTENT_FLOOR = 1e-12  # degenerate curves: see the module docstring
LABEL_NAMES = ("non-intersecting", "self-intersecting")

# SeedSequence spawn keys: fixed codes, so adding a split or variant never shifts another
_SPLIT_CODE = {"train": 0, "test": 1, "val": 2}
_VARIANT_CODE = {"taylor": 0, "sinenet": 1}


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown Squiggles variant {variant!r}; allowed: {VARIANTS}")
    return variant


def latent_dim(variant: str) -> int:
    """Flattened latent size: 14 for Taylor, 1200 for SineNet."""
    return 2 * TAYLOR_ORDER if _check_variant(variant) == "taylor" else 4 * SINENET_UNITS


def latent_names(variant: str) -> tuple[list[str], list[int]]:
    """(part, term) of each flattened latent coordinate: part in a, b (, omega, phi);
    term is i (1..7 for Taylor, the derivative order; 0..299 for SineNet)."""
    if _check_variant(variant) == "taylor":
        parts = ["a"] * TAYLOR_ORDER + ["b"] * TAYLOR_ORDER
        return parts, list(range(1, TAYLOR_ORDER + 1)) * 2
    parts = [p for p in ("a", "b", "omega", "phi") for _ in range(SINENET_UNITS)]
    return parts, list(range(SINENET_UNITS)) * 4


def t_values(variant: str, n_points: int = N_POINTS) -> np.ndarray:
    """The fixed inputs t of A.1.3 (float64): equally spaced, both ends included."""
    lo, hi = T_RANGE[_check_variant(variant)]
    return np.linspace(lo, hi, n_points)


def _rng(generator_or_seed) -> np.random.Generator:
    if isinstance(generator_or_seed, np.random.Generator):
        return generator_or_seed
    if isinstance(generator_or_seed, np.random.SeedSequence | int | np.integer):
        return np.random.default_rng(generator_or_seed)
    raise TypeError(
        "generator_or_seed must be an int, numpy SeedSequence or numpy Generator, "
        f"got {type(generator_or_seed).__name__}"
    )


def sample_latents(
    variant: str,
    n: int,
    generator_or_seed: int | np.random.SeedSequence | np.random.Generator,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``n`` latents of ``variant`` drawn from the paper's laws: (n, latent_dim), CPU.

    Deterministic: an int or SeedSequence seeds a fresh ``numpy.random.Generator``
    (PCG64); a Generator is consumed in place (n * latent_dim doubles). Each row is a
    transform of ``latent_dim`` uniform doubles u in [0, 1), drawn row-major, so row i
    does not depend on n: Taylor ``2u - 1`` (U[-1, 1); float32 rounding may give 1);
    SineNet ``a, b, omega`` are ``ndtri(u + 2^-54)`` (inverse-CDF standard normals,
    always finite) and ``phi = 2 pi u`` (kept below 2 pi after rounding).
    Returned in ``dtype`` (float32 by default, see the module docstring).
    """
    d = latent_dim(variant)
    rng = _rng(generator_or_seed)
    out = torch.empty((n, d), dtype=dtype)
    block = max(1, 2**20 // d)  # bounded float64 scratch; same stream as a single draw
    phi_max = torch.nextafter(torch.tensor(2 * math.pi, dtype=dtype), torch.tensor(0, dtype=dtype))
    for s in range(0, n, block):
        u = torch.from_numpy(rng.random((min(block, n - s), d)))
        if variant == "taylor":
            z = 2.0 * u - 1.0
        else:
            m = 3 * SINENET_UNITS
            z = torch.cat([torch.special.ndtri(u[:, :m] + 2.0**-54), 2 * math.pi * u[:, m:]], 1)
        z = z.to(dtype)
        if variant == "sinenet":
            z[:, 3 * SINENET_UNITS :].clamp_(max=phi_max)
        out[s : s + z.shape[0]] = z
    return out


def _raw_curve(variant: str, z: torch.Tensor, n_points: int) -> torch.Tensor:
    """Theta_z at the fixed t values, before rescaling: (n, n_points, 2)."""
    t64 = torch.from_numpy(t_values(variant, n_points))
    if variant == "taylor":
        i = torch.arange(1, TAYLOR_ORDER + 1, dtype=torch.float64)
        fact = torch.tensor([math.factorial(k) for k in range(1, TAYLOR_ORDER + 1)])
        basis = (t64[None, :] ** i[:, None] / fact[:, None]).to(z.dtype).to(z.device)  # (7, P)
        ab = z.reshape(z.shape[0], 2, TAYLOR_ORDER)
        return (ab @ basis).transpose(1, 2)
    t = t64.to(z.dtype).to(z.device)
    m = SINENET_UNITS
    ab = z[:, : 2 * m].reshape(z.shape[0], 2, m)
    omega, phi = z[:, 2 * m : 3 * m], z[:, 3 * m :]
    sines = torch.sin(omega[:, :, None] * t + phi[:, :, None])  # (n, 300, P)
    return (ab @ sines).transpose(1, 2)


def rescale(c: torch.Tensor) -> torch.Tensor:
    """A.3 steps 1-2: scale (aspect kept) to a 0.8 extent and centre in [0, 1]^2.

    Computed as ``0.8 * (c - mid) / max(extent, 1e-12) + 0.5`` per axis, algebraically
    the paper's two steps (see the module docstring); differentiable, NaN-free.
    """
    hi, lo = c.amax(dim=-2, keepdim=True), c.amin(dim=-2, keepdim=True)  # (n, 1, 2)
    extent = (hi - lo).amax(dim=-1, keepdim=True).clamp_min(EXTENT_FLOOR)  # (n, 1, 1)
    return (c - (hi + lo) / 2) * (EXTENT / extent) + 0.5


def curve_points(variant: str, z: torch.Tensor, n_points: int = N_POINTS) -> torch.Tensor:
    """The curve points of A.1.3, rescaled and centred (A.3 steps 1-2): (n, n_points, 2).

    Differentiable in ``z`` (n, latent_dim); computed in z's dtype and device, in
    chunks of samples (SineNet evaluates n x 300 x n_points sines).
    """
    _check_variant(variant)
    if z.ndim != 2 or z.shape[1] != latent_dim(variant):
        raise ValueError(
            f"{variant} latents must be (n, {latent_dim(variant)}), got {tuple(z.shape)}"
        )
    # SineNet evaluates chunk x 300 x n_points sines: ~2^20 of them per chunk on CPU
    # (cache-sized: 3x faster than 2^24 there), 2^26 on a GPU
    budget = 2**26 if z.device.type == "cuda" else 2**20
    per_sample = n_points * (SINENET_UNITS if variant == "sinenet" else TAYLOR_ORDER)
    chunk = max(1, budget // per_sample)
    parts = [
        rescale(_raw_curve(variant, z[s : s + chunk], n_points))
        for s in range(0, z.shape[0], chunk)
    ]
    if not parts:
        return z.new_zeros((0, n_points, 2))
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def pixel_centres(resolution: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """``(i - 1) / (n - 1)`` for i = 1..n: the pixel-centre coordinates of A.3 step 3."""
    return (torch.arange(resolution, dtype=torch.float64) / (resolution - 1)).to(dtype).to(device)


def _wrapped(t: torch.Tensor) -> bool:
    """True when ``t`` carries forward-mode tangents or is inside a torch.func transform."""
    functorch = getattr(torch._C, "_functorch", None)
    if functorch is not None and functorch.is_functorch_wrapped_tensor(t):
        return True
    return torch.autograd.forward_ad.unpack_dual(t).tangent is not None


def _min_sqdist(c: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """No-grad fast path: min over points of the squared pixel distance, (B, n, n)."""
    dx2 = ((g - c[..., 0, None]) ** 2).transpose(0, 1).contiguous()  # (P, B, n)
    dy2 = ((g - c[..., 1, None]) ** 2).transpose(0, 1).contiguous()
    best = dx2[0, :, :, None] + dy2[0, :, None, :]
    cand = torch.empty_like(best)
    for k in range(1, c.shape[1]):
        torch.add(dx2[k, :, :, None], dy2[k, :, None, :], out=cand)
        torch.minimum(best, cand, out=best)
    return best


def _nearest_index(c: torch.Tensor, resolution: int) -> torch.Tensor:
    """Index of each pixel's nearest curve point, (B, n, n) int64, without gradient.

    A fixed-point int64 key ``floor(dx^2 s) + floor(dy^2 s)`` shifted left by
    ``bits`` and or'ed with the point index is minimised (one vectorised min per
    point, far faster on CPU than ``min(dim)`` with indices); with the per-sample scale
    s the key resolves squared distances to ~2^-53 of their range, i.e. float64
    rounding. Ties go to the lowest index. Works under vmap (no out= / in-place ops).
    """
    c = c.detach().to(torch.float64)
    n_pts = c.shape[1]
    bits = max(1, (n_pts - 1).bit_length())
    g = pixel_centres(resolution, device=c.device)
    dx2 = (g - c[..., 0, None]) ** 2  # (B, P, n)
    dy2 = (g - c[..., 1, None]) ** 2
    span = dx2.amax(dim=(1, 2), keepdim=True) + dy2.amax(dim=(1, 2), keepdim=True)
    scale = 2.0 ** (61 - bits) / span.clamp_min(1e-300)
    k = torch.arange(n_pts, device=c.device)[:, None]
    a = torch.floor(dx2 * scale).to(torch.int64) * 2**bits + k
    b = torch.floor(dy2 * scale).to(torch.int64) * 2**bits
    best = a[:, 0, :, None] + b[:, 0, None, :]
    for j in range(1, n_pts):
        best = torch.minimum(best, a[:, j, :, None] + b[:, j, None, :])
    return best % 2**bits


def render(
    points: torch.Tensor,
    resolution: int = 60,
    sigma: float | None = None,
    *,
    differentiable: bool | None = None,
    chunk: int | None = None,
) -> torch.Tensor:
    """A.3 steps 3-4: ``X_ij = max_k exp(-(((i-1)/(n-1) - c_kx)^2 + ((j-1)/(n-1) - c_ky)^2)
    / sigma^2)`` with ``sigma = 1/n`` (paper), n = ``resolution``: (N, 1, n, n).

    Row index i goes with x, column j with y (the paper's indices). Computed as
    ``exp(-min_k d_k^2 / sigma^2)`` in the points' dtype and device, ``chunk`` samples
    at a time (default: about 2^18 pixels per chunk on CPU, 2^24 on GPU), so memory is
    O(chunk * n^2) and never O(N * P * n^2).

    ``differentiable``: None (auto) uses the gradient-carrying path when ``points``
    requires grad, carries forward-mode tangents or is inside a torch.func transform;
    that path finds each pixel's nearest point without gradient (an int64 key) and
    recomputes its distance from the gathered coordinates, so the backward pass keeps
    one index per pixel and the gradient is max-pooling's (nearest point only). The
    no-grad path is a running float minimum, about 3x faster on CPU; both give the
    same values (up to the rounding of exact near-ties).
    """
    if points.ndim != 3 or points.shape[-1] != 2:
        raise ValueError(f"points must be (N, P, 2), got {tuple(points.shape)}")
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    inv_s2 = float(resolution**2) if sigma is None else 1.0 / float(sigma) ** 2
    if differentiable is None:
        differentiable = (torch.is_grad_enabled() and points.requires_grad) or _wrapped(points)
    if chunk is None:
        budget = 2**24 if points.device.type == "cuda" else 2**18
        chunk = max(1, budget // resolution**2)
    g = pixel_centres(resolution, points.dtype, points.device)
    n = points.shape[0]
    outs = []
    for s in range(0, n, chunk):
        c = points[s : s + chunk]
        if differentiable:
            idx = _nearest_index(c, resolution).reshape(c.shape[0], -1)
            cx = torch.gather(c[..., 0], 1, idx).reshape(-1, resolution, resolution)
            cy = torch.gather(c[..., 1], 1, idx).reshape(-1, resolution, resolution)
            d2 = (g[:, None] - cx) ** 2 + (g[None, :] - cy) ** 2
        else:
            with torch.no_grad():
                d2 = _min_sqdist(c, g)
        outs.append(torch.exp(d2 * -inv_s2)[:, None])
    if not outs:
        return points.new_zeros((0, 1, resolution, resolution))
    return outs[0] if len(outs) == 1 else torch.cat(outs)


def decode(
    variant: str,
    z: torch.Tensor,
    resolution: int = 60,
    sigma: float | None = None,
    n_points: int = N_POINTS,
) -> torch.Tensor:
    """The manifold's exact decoder: ``render(curve_points(variant, z), resolution)``."""
    return render(curve_points(variant, z, n_points), resolution, sigma)


def labels(points: np.ndarray | torch.Tensor) -> np.ndarray:
    """1 where the polyline through the points (N, P, 2) self-intersects, else 0 (int8).

    ``not shapely.is_simple(shapely.linestrings(points))``, vectorised over N; see the
    module docstring for exactly what counts (crossing and touching do; repeated
    consecutive points and a closed ring do not).
    """
    if isinstance(points, torch.Tensor):
        points = points.detach().cpu().numpy()
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[-1] != 2 or pts.shape[1] < 2:
        raise ValueError(f"points must be (N, P >= 2, 2), got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("points contain NaN or inf; cannot label")
    if pts.shape[0] == 0:
        return np.zeros(0, dtype=np.int8)
    return (~shapely.is_simple(shapely.linestrings(pts))).astype(np.int8)


def seed_sequence(variant: str, seed: int, split: str, shard: int = 0) -> np.random.SeedSequence:
    """The seed stream of one (variant, split, shard): ``SeedSequence(seed, spawn_key=
    (variant code, split code, shard))``. Distinct spawn keys give independent
    streams (SeedSequence hashes the key into the state), so train and test never
    share a stream for any seed; codes are fixed (train 0, test 1, val 2)."""
    _check_variant(variant)
    if split not in _SPLIT_CODE:
        raise ValueError(f"unknown split {split!r}; allowed: {SPLITS}")
    if seed < 0 or shard < 0:
        raise ValueError(f"seed and shard must be >= 0, got {seed}, {shard}")
    key = (_VARIANT_CODE[variant], _SPLIT_CODE[split], int(shard))
    return np.random.SeedSequence(int(seed), spawn_key=key)


def make_dataset(
    variant: str,
    n: int,
    seed: int,
    split: str,
    resolution: int = 60,
    *,
    shard: int = 0,
    n_points: int = N_POINTS,
    device: str | torch.device = "cpu",
    batch: int = 4096,
) -> xr.Dataset:
    """``n`` Squiggles samples of one split: latents, points, images and labels.

    Seeds: latents come from :func:`seed_sequence` ``(variant, seed, split, shard)``,
    a SeedSequence whose spawn key encodes the split, so train, test and val are
    drawn from disjoint (independent) streams by construction even with the same
    ``seed``; ``shard`` numbers further independent streams of one split (for sets
    generated in pieces). Deterministic for a given device (float rounding on a GPU
    may differ from the CPU's). Generation runs ``batch`` samples at a time on
    ``device``; labels come from the stored float32 points.
    """
    ss = seed_sequence(variant, seed, split, shard)
    z = sample_latents(variant, n, ss)
    points, image = _points_and_images(variant, z, resolution, n_points, device, batch)
    lab = labels(points)
    parts, terms = latent_names(variant)
    centres = pixel_centres(resolution).numpy()
    lo, hi = T_RANGE[variant]
    return xr.Dataset(
        {
            "latent": var(
                z.numpy(), ("sample", "latent_dim"), f"{variant} latent code z (App. A.1)"
            ),
            "points": var(
                points,
                ("sample", "point", "xy"),
                "curve points Theta_z(t), rescaled to a 0.8 extent and centred in the unit "
                "square (App. A.1.3, A.3 steps 1-2)",
                units="unit square",
            ),
            "image": var(
                image.astype(np.float32),
                ("sample", "channel", "row", "col"),
                "grayscale image exp(-n^2 min_k |pixel centre - c_k|^2) (App. A.3); row "
                "index goes with x, column with y",
                units="intensity in [0, 1]",
            ),
            "label": var(
                lab,
                ("sample",),
                "1 if the polyline through the points self-intersects (not "
                "shapely.is_simple), else 0 (App. A.2)",
            ),
        },
        coords={
            "sample": np.arange(n),
            "latent_dim": np.arange(latent_dim(variant)),
            "latent_part": ("latent_dim", np.array(parts)),
            "latent_term": ("latent_dim", np.array(terms)),
            "point": np.arange(n_points),
            "t": ("point", t_values(variant, n_points)),
            "xy": np.array(["x", "y"]),
            "channel": [0],
            "row": np.arange(resolution),
            "col": np.arange(resolution),
            "pixel_x": ("row", centres),
            "pixel_y": ("col", centres),
        },
        attrs={
            "variant": variant,
            "seed": int(seed),
            "split": split,
            "shard": int(shard),
            "seed_spawn_key": list(ss.spawn_key),
            "resolution": int(resolution),
            "n_points": int(n_points),
            "sigma": 1.0 / resolution,
            "t_range": [lo, hi],
            "label_names": list(LABEL_NAMES),
            "geos_version": shapely.geos_version_string,
        },
    )


def _points_and_images(
    variant: str,
    z: torch.Tensor,
    resolution: int,
    n_points: int,
    device: str | torch.device,
    batch: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Curve points and rendered images of latents ``z``, ``batch`` at a time on ``device``."""
    dev = torch.device(device)
    pts, imgs = [], []
    with torch.no_grad():
        for s in range(0, z.shape[0], batch):
            p = curve_points(variant, z[s : s + batch].to(dev), n_points)
            imgs.append(render(p, resolution).cpu())
            pts.append(p.cpu())
    points = torch.cat(pts).numpy() if pts else np.zeros((0, n_points, 2), np.float32)
    image = torch.cat(imgs).numpy() if imgs else np.zeros((0, 1, resolution, resolution))
    return points, image


def latent_rows(
    variant: str, seed: int, split: str, start: int, n: int, shard: int = 0
) -> torch.Tensor:
    """Rows ``start .. start + n`` of the latents :func:`make_dataset` draws for (variant,
    seed, split, shard), without drawing the rows before them: the PCG64 stream is
    advanced by ``start x latent_dim`` draws (each latent entry is one uniform double,
    one 64-bit draw; see :func:`sample_latents`)."""
    if start < 0 or n < 0:
        raise ValueError(f"start and n must be >= 0, got {start}, {n}")
    rng = np.random.default_rng(seed_sequence(variant, seed, split, shard))
    rng.bit_generator.advance(int(start) * latent_dim(variant))
    return sample_latents(variant, n, rng)


def curve_chunk(
    variant: str,
    seed: int,
    split: str,
    start: int,
    n: int,
    resolution: int = 60,
    *,
    n_points: int = N_POINTS,
    batch: int = 4096,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (n, 1, R, R) float32 and labels (n,) int64 of curves ``start .. start + n``
    of a split, generated on the CPU: the same curves, images and labels as rows
    ``start .. start + n`` of ``make_dataset(variant, N, seed, split, resolution)`` for
    any N beyond them, so a training set can be streamed chunk by chunk instead of
    stored (any chunk, any order, in any process)."""
    z = latent_rows(variant, seed, split, start, n)
    points, image = _points_and_images(variant, z, resolution, n_points, "cpu", batch)
    return (
        torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)),
        torch.from_numpy(labels(points).astype(np.int64)),
    )


def label_distribution(ds: xr.Dataset) -> dict:
    """Table 4: counts and fractions of each label in a dataset from :func:`make_dataset`."""
    lab = np.asarray(ds["label"].values)
    n = int(lab.size)
    counts = [int((lab == k).sum()) for k in (0, 1)]
    if sum(counts) != n:
        raise ValueError("labels must be 0 or 1")
    frac = [c / n if n else float("nan") for c in counts]
    return {
        "variant": ds.attrs.get("variant"),
        "split": ds.attrs.get("split"),
        "n": n,
        "n_non_intersecting": counts[0],
        "n_self_intersecting": counts[1],
        "non_intersecting": frac[0],
        "self_intersecting": frac[1],
    }


def intersection_points(points: np.ndarray | torch.Tensor) -> np.ndarray:
    """Where each polyline through the points (N, P, 2) first meets itself: (N, 2) float64,
    a NaN row where it is simple. Agrees with :func:`labels` (finite row iff label 1).

    Segments are ``s_k = (p_k, p_k+1)`` after dropping repeated consecutive points (GEOS
    ignores them too). Every pair ``i < j - 1`` is tested (a proper crossing or a touch:
    an end point on the other segment), plus adjacent pairs ``(i, i + 1)`` that fold back
    onto each other (collinear, opposite directions), which GEOS also calls non-simple.
    The first intersection is the one of the hit pair with the lowest ``i``, then the
    lowest ``j``; its location is the crossing point of the two segments, or exactly the
    touching vertex when an end point lies on the other segment. A collinear overlap
    (probability zero for sampled curves) gives the start of the overlap when walking
    along segment ``i`` (an exact vertex; the shared vertex for a fold-back). A closed
    curve whose only contact is first point == last point is simple (a ring), as in
    :func:`labels`. Orientation signs are exact: a float64 filter (relative error bound
    1e-14, Shewchuk's is 3.3e-16) with an exact rational recomputation of the few
    uncertain ones, so the hit/no-hit decision does not depend on rounding. Vectorised
    over all segment pairs of one curve; a loop over curves.
    """
    from fractions import Fraction

    if isinstance(points, torch.Tensor):
        points = points.detach().cpu().numpy()
    pts_all = np.asarray(points, dtype=np.float64)
    if pts_all.ndim != 3 or pts_all.shape[-1] != 2 or pts_all.shape[1] < 2:
        raise ValueError(f"points must be (N, P >= 2, 2), got {pts_all.shape}")
    if not np.isfinite(pts_all).all():
        raise ValueError("points contain NaN or inf; cannot locate intersections")

    def orient(ax, ay, bx, by, cx, cy) -> np.ndarray:
        """Exact sign of the orientation of (a, b, c): +1 left turn, -1 right, 0 collinear."""
        ax, ay, bx, by, cx, cy = np.broadcast_arrays(ax, ay, bx, by, cx, cy)
        detl = (ax - cx) * (by - cy)
        detr = (ay - cy) * (bx - cx)
        det = detl - detr
        sign = np.sign(det).astype(np.int8)
        unsure = (np.abs(det) <= 1e-14 * (np.abs(detl) + np.abs(detr))) & (
            (detl != 0) | (detr != 0)
        )
        for k in zip(*np.nonzero(unsure), strict=True):
            a = [Fraction(float(v[k])) for v in (ax, ay, bx, by, cx, cy)]
            exact = (a[0] - a[4]) * (a[3] - a[5]) - (a[1] - a[5]) * (a[2] - a[4])
            sign[k] = (exact > 0) - (exact < 0)
        return sign

    out = np.full((pts_all.shape[0], 2), np.nan)
    for n, pts in enumerate(pts_all):
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = (pts[1:] != pts[:-1]).any(axis=1)
        p = pts[keep]
        m = len(p) - 1  # segments
        if m < 2:
            continue
        x, y = p[:, 0], p[:, 1]
        # o[k, l]: orientation of point l relative to segment k, (m, m + 1)
        o = orient(x[:-1, None], y[:-1, None], x[1:, None], y[1:, None], x[None, :], y[None, :])
        # adjacent pairs folding back: p_k+2 on the line of s_k, pointing backwards
        d = p[1:] - p[:-1]
        fold = (o[np.arange(m - 1), np.arange(2, m + 1)] == 0) & ((d[:-1] * d[1:]).sum(axis=1) < 0)
        i, j = np.triu_indices(m, k=2)
        o1, o2, o3, o4 = o[i, j], o[i, j + 1], o[j, i], o[j, i + 1]
        collinear = (o1 == 0) & (o2 == 0)
        lo = np.maximum(np.minimum(p[i], p[i + 1]), np.minimum(p[j], p[j + 1]))
        hi = np.minimum(np.maximum(p[i], p[i + 1]), np.maximum(p[j], p[j + 1]))
        overlap = (lo <= hi).all(axis=1)
        hit = (o1 * o2 <= 0) & (o3 * o4 <= 0) & (~collinear | overlap)
        if (p[0] == p[-1]).all():  # a ring: segments 0 and m-1 share the closing point
            hit &= ~((i == 0) & (j == m - 1) & ~collinear)
        # candidates: (i, j, pair index or -1 for a fold-back), lowest i then j
        first_pair = int(np.argmax(hit)) if hit.any() else -1
        first_fold = int(np.argmax(fold)) if fold.any() else -1
        cands = []
        if first_pair >= 0:
            cands.append((int(i[first_pair]), int(j[first_pair]), first_pair))
        if first_fold >= 0:
            cands.append((first_fold, first_fold + 1, -1))
        if not cands:
            continue
        a, b, k = min(cands)
        if k < 0:
            out[n] = p[a + 1]
            continue
        p1, p2, p3, p4 = p[a], p[a + 1], p[b], p[b + 1]
        if collinear[k]:
            d1 = p2 - p1
            t3, t4 = (float((q - p1) @ d1) / float(d1 @ d1) for q in (p3, p4))
            start = min(t3, t4)
            out[n] = p1 if start <= 0 else (p3 if t3 <= t4 else p4)
        elif o1[k] == 0:
            out[n] = p3
        elif o2[k] == 0:
            out[n] = p4
        elif o3[k] == 0:
            out[n] = p1
        elif o4[k] == 0:
            out[n] = p2
        else:
            d1, d2 = p2 - p1, p4 - p3
            den = d1[0] * d2[1] - d1[1] * d2[0]
            t = ((p3[0] - p1[0]) * d2[1] - (p3[1] - p1[1]) * d2[0]) / den
            out[n] = p1 + min(max(t, 0.0), 1.0) * d1
    return out
