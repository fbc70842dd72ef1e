"""Boundary tilting (Tanay & Griffin): linear SVMs, the tilting plane and the tilting angle.

The paper's picture of adversarial examples for a binary linear classifier
``f(x) = w . x + b`` lives in the *tilting plane*: the plane spanned by the unit
nearest-centroid direction ``z_hat`` (from the centroid of class -1 to the centroid of
class +1) and the classifier's normal ``w``, with the orthonormal Gram-Schmidt basis
``(z_hat, n_hat)``, ``n = w - (w . z_hat) z_hat``, ``n_hat = n / |n|``. The *tilting
angle* is the angle between ``w`` and ``z_hat``: 0 degrees is the nearest-centroid
boundary that bisects the classes, 90 degrees a boundary that lies along the data.

For a linear classifier the minimal L2 adversarial perturbation of ``x`` is along
``w`` and has length ``|f(x)| / |w|``; its cosine with ``z_hat`` is ``cos(tilting
angle)``, which is why the paper says that at high L2 regularisation (where the SVM
normal tends to the centroid difference) the adversarial perturbation "simply consists
in a difference of centroids".

Labels are ``-1`` / ``+1`` throughout. Everything here is numpy/scipy; the SVM solver is
implemented here (no scikit-learn).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import scipy.linalg
import scipy.stats
import xarray as xr

from pipeline_lib.stats import seed_stat
from pipeline_lib.zarr_io import table_dataset, var

PLANE_AXES = ("z_hat", "n_hat")
BOUNDARY_COEFS = ("u", "v", "const")
_H_SHRINK = 0.3  # smoothing width factor between the solver's stages

# ----------------------------------------------------------------------------- helpers


def _as_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.ndim != 2:
        raise ValueError(f"x must be (n_samples, n_features), got shape {x.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} samples but y has {y.shape[0]} labels")
    if not np.all((y == 1.0) | (y == -1.0)):
        raise ValueError("labels must be -1 or +1")
    if not (np.any(y > 0) and np.any(y < 0)):
        raise ValueError("both classes (-1 and +1) must be present")
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains non-finite values")
    return x, y


def _unit(v: np.ndarray, what: str) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError(f"{what} has zero (or non-finite) norm")
    return v / norm


# ----------------------------------------------------------------------------- SVM


def _smoothed_alpha(m: np.ndarray, h: float) -> np.ndarray:
    """``-d loss_h / d m`` for the quadratically smoothed hinge, in [0, 1]."""
    return np.clip((1.0 - m) / h, 0.0, 1.0)


def _smoothed_loss(m: np.ndarray, h: float) -> np.ndarray:
    s = 1.0 - m
    return np.where(s <= 0.0, 0.0, np.where(s >= h, s - 0.5 * h, 0.5 * s * s / h))


def _hinge_objective(w: np.ndarray, m: np.ndarray, lam: float) -> float:
    return 0.5 * lam * float(w @ w) + float(np.mean(np.maximum(0.0, 1.0 - m)))


def _dual_certificate(
    x: np.ndarray, y: np.ndarray, alpha: np.ndarray, lam: float
) -> tuple[float, np.ndarray]:
    """Value of the hinge SVM dual at ``alpha`` made feasible, and those multipliers.

    Dual: ``max (1/n) sum a_i - lam/2 |w(a)|^2``, ``w(a) = X^T (a * y) / (lam n)``, subject
    to ``0 <= a_i <= 1`` and ``sum a_i y_i = 0``. The equality is enforced by scaling down
    the multipliers of the class with the larger sum (which keeps the box). By weak
    duality the value is a lower bound on the optimal primal objective.
    """
    a = np.clip(alpha, 0.0, 1.0).copy()
    pos, neg = y > 0, y < 0
    sp, sn = float(a[pos].sum()), float(a[neg].sum())
    if sp > sn:
        a[pos] *= sn / sp
    elif sn > sp:
        a[neg] *= sp / sn
    n = x.shape[0]
    wa = x.T @ (a * y) / (lam * n)
    return float(a.mean()) - 0.5 * lam * float(wa @ wa), a


def _line_search(m: np.ndarray, d: np.ndarray, wp: float, pp: float, lam: float, h: float) -> float:
    """Exact minimiser ``t > 0`` of ``phi(t) = f_h(z + t p)`` (piecewise quadratic).

    ``m``: current margins, ``d``: their change per unit step, ``wp = w . p_w``,
    ``pp = |p_w|^2``. ``phi'`` is non-decreasing and piecewise linear with kinks where a
    margin enters or leaves the smoothing zone, so the root is found by a binary search
    over the sorted kinks and a linear interpolation inside the bracketing segment.
    """
    n = m.shape[0]

    def dphi(t: float) -> float:
        return lam * (wp + t * pp) - float(_smoothed_alpha(m + t * d, h) @ d) / n

    nz = d != 0.0
    s = 1.0 - m[nz]
    kinks = np.concatenate([s / d[nz], (s - h) / d[nz]])
    kinks = np.unique(kinks[kinks > 0.0])
    lo, g_lo = 0.0, dphi(0.0)
    if g_lo >= 0.0:
        return 0.0
    # binary search for the first kink with phi' >= 0
    i0, i1 = 0, kinks.size
    while i0 < i1:
        mid = (i0 + i1) // 2
        if dphi(float(kinks[mid])) >= 0.0:
            i1 = mid
        else:
            i0 = mid + 1
    if i0 > 0:
        lo = float(kinks[i0 - 1])
        g_lo = dphi(lo)
    if i0 < kinks.size:
        hi = float(kinks[i0])
    else:  # beyond the last kink phi' is linear with slope >= lam |p_w|^2
        hi = lo + 1.0
    g_hi = dphi(hi)
    for _ in range(200):  # only past the last kink, with a tiny slope
        if g_hi >= 0.0:
            break
        lo, g_lo, hi = hi, g_hi, hi + 2.0 * (hi - lo)
        g_hi = dphi(hi)
    else:
        return hi  # phi decreases along p as far as we can see
    if g_hi == g_lo:
        return hi
    return lo - g_lo * (hi - lo) / (g_hi - g_lo)


def _bias_search(m: np.ndarray, y: np.ndarray, lam: float, h: float) -> float:
    """Exact minimiser over the bias alone, as a change ``db`` of ``b``."""
    for sign in (1.0, -1.0):
        t = _line_search(m, sign * y, 0.0, 0.0, lam, h)
        if t > 0.0:
            return sign * t
    return 0.0


def _hessian_zone(m: np.ndarray, h: float) -> np.ndarray:
    """Points whose smoothed loss has curvature ``1/h`` on at least one side.

    The closed interval ``[1 - h, 1]`` with a relative tolerance: the exact line search
    stops *on* kinks, and leaving the points sitting there out of the Hessian would make
    the model flat in directions where the loss is not (e.g. the bias, when a whole class
    sits on a kink), so that the iteration zigzags.
    """
    eps = 1e-9 * h
    return (m <= 1.0 + eps) & (m >= 1.0 - h - eps)


def _newton_step(x, y, yx, m, w, zone, grad_w, grad_b, lam, h):
    """Newton direction with the zone's curvature, and the exact step length along it."""
    n, d = x.shape
    c = 1.0 / (n * h)
    xq = x[zone]
    hess = np.empty((d + 1, d + 1))
    hess[:d, :d] = c * (xq.T @ xq)
    hess[:d, :d].flat[:: d + 1] += lam
    hess[:d, d] = hess[d, :d] = c * xq.sum(axis=0)
    nq = c * xq.shape[0]
    # damping on b only matters when no point is in the zone (f_h is then linear in b)
    hess[d, d] = nq * (1.0 + 1e-10) if nq > 0 else lam
    rhs = -np.concatenate([grad_w, [grad_b]])
    try:
        step = scipy.linalg.cho_solve(scipy.linalg.cho_factor(hess), rhs)
    except (np.linalg.LinAlgError, ValueError):
        step = scipy.linalg.lstsq(hess, rhs)[0]
    p_w, p_b = step[:d], float(step[d])
    dm = yx @ p_w + y * p_b
    t = _line_search(m, dm, float(w @ p_w), float(p_w @ p_w), lam, h)
    return p_w, p_b, t


def _polish(x, y, yx, m, h, lam, max_singular: int = 1000):
    """Exact hinge solution for the partition of the points read off the margins ``m``.

    Violators (``m <= 1 - h``) get ``alpha = 1``, points with ``m >= 1`` get 0 and the
    zone points are put exactly on the margin (``m = 1``); with
    ``w = (sum_i alpha_i y_i x_i) / (lam n)`` this is the linear KKT system
    ``G a + y_Q b = 1 - r``, ``y_Q . a = -sum_viol y_i`` in the zone multipliers ``a`` and
    ``b`` (``G`` the zone's Gram matrix of ``y_i x_i`` over ``lam n``, ``r`` the violators'
    contribution to the zone margins), solved directly (least squares if singular). Returns
    ``(w, b, alpha)`` or None when the zone is empty. A zone of more than ``d + 1``
    points makes ``G`` singular: generically the partition is then not yet the
    optimum's, but degenerate problems (many points exactly on the margin, e.g.
    duplicated points) have such optima, so a zone of up to ``max_singular`` points is
    still tried with a minimum-norm least-squares solution (any solution gives the same
    ``w``) once the smoothing is small (``h <= 1e-4``: earlier, a large zone means
    the partition has not settled); larger ones are skipped as too expensive.
    """
    n, d = x.shape
    zone = (m < 1.0) & (m > 1.0 - h)
    viol = m <= 1.0 - h
    q = int(zone.sum())
    singular = q > d + 1
    if q == 0 or (singular and (q > max_singular or h > 1e-4)):
        return None
    scale = 1.0 / (lam * n)
    w_viol = yx[viol].sum(axis=0) * scale
    yq = y[zone]
    yxq = yx[zone]
    kkt = np.zeros((q + 1, q + 1))
    kkt[:q, :q] = (yxq @ yxq.T) * scale
    kkt[:q, q] = yq
    kkt[q, :q] = yq
    rhs = np.concatenate([1.0 - yxq @ w_viol, [-float(y[viol].sum())]])
    sol = None
    if not singular:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
                sol = scipy.linalg.solve(kkt, rhs, assume_a="sym")
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgWarning, ValueError):
            sol = None
    if sol is None:  # singular (e.g. duplicated points on the margin): minimum norm
        try:
            sol = scipy.linalg.lstsq(kkt, rhs, lapack_driver="gelsd")[0]
        except (np.linalg.LinAlgError, ValueError):
            return None
    a_q, b = sol[:q], float(sol[q])
    w = w_viol + yxq.T @ a_q * scale
    alpha = viol.astype(np.float64)
    alpha[zone] = a_q
    return w, b, alpha


def fit_linear_svm(
    x,
    y,
    lam: float,
    *,
    max_iter: int = 500,
    tol: float = 1e-4,
    seed: int = 0,
    w0: np.ndarray | None = None,
    b0: float | None = None,
) -> tuple[np.ndarray, float, dict]:
    """L2-regularised linear SVM with the (exact) hinge loss.

    Minimises ``P(w, b) = lam/2 |w|^2 + mean_i max(0, 1 - y_i (w . x_i + b))`` with
    ``y_i`` in {-1, +1} and the bias ``b`` not regularised (the paper's SVM, with
    ``lam = 1 / (n C)`` in the usual ``C`` parametrisation).

    Solver: a primal Newton method with exact line search (Chapelle 2007, "Training a
    support vector machine in the primal") on a quadratically smoothed hinge whose
    smoothing width ``h`` is driven towards 0 (``h = 1, 0.3, 0.09, ...``, warm started),
    stopped by a **duality-gap certificate on the exact hinge problem**. With
    ``loss_h(m) = 0`` for ``m >= 1``, ``(1 - m)^2 / (2h)`` for ``1 - h < m < 1`` and
    ``1 - m - h/2`` below, ``f_h`` is piecewise quadratic, its Hessian only involves the
    points inside the smoothing zone (so a Newton step costs one pass over ``x`` plus a
    ``(d+1)``-square solve), and the exact line search is a search over the kinks.
    When the partition of the points (margin violators / smoothing zone / outside)
    settles, the hinge problem restricted to that partition (zone points exactly on the
    margin) is a linear KKT system, which is solved directly ("polish"); its solution is
    kept only if the certificate below accepts it, so the smoothing path just has to find
    the right partition. The multipliers ``a_i = -loss_h'(m_i)`` in [0, 1] (rescaled to satisfy
    ``sum a_i y_i = 0``) are feasible for the hinge dual, so ``gap = P(w, b) - D(a) >=
    P(w, b) - P*``. As ``P`` is ``lam``-strongly convex in ``w``,
    ``|w - w*| <= sqrt(2 gap / lam)``, and the solver stops when that bound is at most
    ``tol * |w|`` (which also gives ``gap <= tol^2 P``). The returned ``w`` is therefore
    the exact-hinge solution to a *certified* relative error ``tol`` (angles to about
    ``tol`` radians) whatever the final smoothing; the smoothing is only a device of the
    optimiser. (A bound on the objective alone would be loose on ``w`` at high ``lam``,
    where the hinge term dominates ``P``.)

    Why not LIBLINEAR's dual coordinate descent: in pure Python it costs ~50 ms per
    epoch at 12000 x 784 (measured) and needs hundreds of epochs at low ``lam``; its bias handling
    (a constant feature) also regularises ``b`` slightly. The Newton method is fully
    vectorised and treats ``b`` exactly.

    Parameters
    ----------
    x, y : (n, d) inputs and (n,) labels in {-1, +1}.
    lam : regularisation strength, > 0.
    max_iter : total number of Newton steps allowed (over all smoothing stages).
    tol : certified bound on the relative error of ``w`` (see above).
    seed : recorded only; the solver is deterministic and draws no random numbers.
    w0, b0 : optional warm start (e.g. the solution at a neighbouring ``lam``).

    Returns
    -------
    w : (d,) normal, b : bias, info : dict with ``iterations``, ``converged``,
    ``objective`` (exact hinge primal), ``dual_objective``, ``duality_gap``,
    ``smoothing`` (final ``h``), ``n_support`` (points with a positive multiplier),
    ``alpha`` (the feasible dual multipliers, in [0, 1]) and ``seed``.
    """
    x, y = _as_xy(x, y)
    lam = float(lam)
    if not (lam > 0.0 and np.isfinite(lam)):
        raise ValueError(f"lam must be a positive finite number, got {lam}")
    if max_iter < 1 or not tol > 0.0:
        raise ValueError("max_iter must be >= 1 and tol > 0")
    n, d = x.shape
    w = np.zeros(d) if w0 is None else np.array(w0, dtype=np.float64).reshape(d)
    b = 0.0 if b0 is None else float(b0)
    yx = x * y[:, None]  # rows y_i x_i: margins are yx @ w + y b
    m = yx @ w + y * b

    def certify(w, m, alpha):
        primal = _hinge_objective(w, m, lam)
        dual, alpha = _dual_certificate(x, y, alpha, lam)
        gap = max(primal - dual, 0.0)
        # |w - w*|^2 <= 2 gap / lam <= (tol |w|)^2; or a gap at rounding level
        ok = gap <= 0.5 * lam * tol * tol * float(w @ w) or gap <= 1e-15 * primal
        return primal, dual, gap, alpha, ok

    h, h_min = 1.0, 1e-12
    it = 0
    converged = False
    f_prev = math.inf
    hint = np.zeros(n, dtype=bool)  # zone of the previous stage, used right after h shrinks
    prev_part = None
    while True:
        a_h = _smoothed_alpha(m, h)
        primal, dual, gap, alpha, converged = certify(w, m, a_h)
        if converged or it >= max_iter:
            break
        f_h = 0.5 * lam * float(w @ w) + float(np.mean(_smoothed_loss(m, h)))
        grad_w = lam * w - yx.T @ a_h / n
        grad_b = -float(a_h @ y) / n
        gnorm = math.sqrt(float(grad_w @ grad_w) + grad_b * grad_b)
        stage_done = f_prev - f_h <= 1e-13 * max(abs(f_h), 1e-300) or gnorm <= 1e-12 * max(
            1.0, lam * float(np.linalg.norm(w))
        )
        part = (m < 1.0).astype(np.int8) + (m <= 1.0 - h)  # 0 outside, 1 zone, 2 violator
        if stage_done or (prev_part is not None and np.array_equal(part, prev_part)):
            # the partition of the points has settled: it is usually the hinge optimum's,
            # so solve that exactly and keep the result if the certificate accepts it
            polished = _polish(x, y, yx, m, h, lam)
            if polished is not None:
                pw, pb, pa = polished
                pm = yx @ pw + y * pb
                p_cert = certify(pw, pm, pa)
                if p_cert[4]:
                    w, b, m = pw, pb, pm
                    primal, dual, gap, alpha, converged = p_cert
                    break
        prev_part = part
        if stage_done:
            if h <= h_min:
                break
            # sharpen the loss. The points of the old zone keep margins in (1 - h_old, 1)
            # but are the ones that stay on the margin, so the first Newton step of the
            # new stage still uses them.
            hint = part == 1
            h *= _H_SHRINK
            f_prev = math.inf
            prev_part = None
            continue
        f_prev = f_h
        step = None
        if hint.any():
            # Newton step for the piece "old zone points quadratic": its minimiser is
            # the new stage's optimum when the partition is right (it usually is)
            a_piece = a_h.copy()
            a_piece[hint] = (1.0 - m[hint]) / h
            zone = _hessian_zone(m, h) | hint
            g_w = lam * w - yx.T @ a_piece / n
            g_b = -float(a_piece @ y) / n
            step = _newton_step(x, y, yx, m, w, zone, g_w, g_b, lam, h)
            hint[:] = False
        if step is None or step[2] <= 0.0:  # no hint, or its direction did not descend
            step = _newton_step(x, y, yx, m, w, _hessian_zone(m, h), grad_w, grad_b, lam, h)
        p_w, p_b, t = step
        it += 1
        if t <= 0.0:
            f_prev = f_h  # no progress along this direction: the stage is stalled
            continue
        w = w + t * p_w
        b = b + t * p_b
        m = yx @ w + y * b
        # then the exact minimisation over b alone: f_h is flat in b (no curvature) when
        # few points are in the zone, so the damped Newton step alone moves b too little
        db = _bias_search(m, y, lam, h)
        if db != 0.0:
            b += db
            m = m + y * db
    info = {
        "iterations": it,
        "converged": bool(converged),
        "objective": float(primal),
        "dual_objective": float(dual),
        "duality_gap": float(gap),
        "smoothing": float(h),
        "n_support": int(np.count_nonzero(alpha > 0.0)),
        "alpha": alpha,
        "seed": int(seed),
    }
    return w, float(b), info


def svm_margins(x, w, b) -> np.ndarray:
    """Decision values ``f(x) = w . x + b`` for a batch (n, d) or a single point (d,)."""
    return np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64) + float(b)


# ----------------------------------------------------------------------------- geometry


def class_centroids(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Means of class -1 and class +1."""
    x, y = _as_xy(x, y)
    return x[y < 0].mean(axis=0), x[y > 0].mean(axis=0)


def centroid_direction(x, y) -> np.ndarray:
    """Unit vector ``z_hat`` from the centroid of class -1 to the centroid of class +1.

    This is the normal of the nearest-centroid classifier (the paper's reference
    direction). Raises ``ValueError`` if the two centroids coincide.
    """
    mu_neg, mu_pos = class_centroids(x, y)
    return _unit(mu_pos - mu_neg, "the centroid difference")


def tilting_plane(w, z_hat, *, fallback=None, rtol: float = 1e-10) -> np.ndarray:
    """Orthonormal basis (2, d) of the tilting plane: rows ``z_hat`` and ``n_hat``.

    Gram-Schmidt (paper, Sec. "tilting plane"): ``n = w - (w . z_hat) z_hat``,
    ``n_hat = n / |n|``; ``z_hat`` is normalised first. By construction
    ``w . n_hat >= 0``, so the classifier's normal always lies in the half-plane
    ``v >= 0`` of the plane's ``(u, v)`` coordinates.

    When ``w`` is parallel to ``z_hat`` (``|n| <= rtol |w|``) the plane is undefined.
    Then ``fallback`` (any vector not parallel to ``z_hat``, e.g. a within-class principal
    direction) is orthogonalised against ``z_hat`` instead; without a fallback a
    ``ValueError`` is raised.
    """
    z = _unit(z_hat, "z_hat")
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if w.shape != z.shape:
        raise ValueError(f"w has shape {w.shape} but z_hat has shape {z.shape}")
    wn = float(np.linalg.norm(w))
    if wn == 0.0:
        raise ValueError("w is zero: the classifier has no boundary")
    n = w - (w @ z) * z
    if float(np.linalg.norm(n)) <= rtol * wn:
        if fallback is None:
            raise ValueError(
                "w is parallel to z_hat (tilting angle 0): the tilting plane is undefined; "
                "pass a fallback direction"
            )
        f = np.asarray(fallback, dtype=np.float64).reshape(-1)
        n = f - (f @ z) * z
        if float(np.linalg.norm(n)) <= rtol * max(float(np.linalg.norm(f)), 1e-300):
            raise ValueError("the fallback direction is parallel to z_hat too")
    # one re-orthogonalisation pass keeps the basis orthonormal to machine precision
    n = n - (n @ z) * z
    return np.stack([z, n / np.linalg.norm(n)])


def tilting_angle(w, z_hat) -> float:
    """Angle in degrees between ``w`` and ``z_hat`` (0: no tilting, 90: fully tilted).

    Computed as ``atan2(|w_perp|, w . z_hat)``, accurate also for tiny angles. Angles
    above 90 degrees mean ``w`` points against the centroid difference.
    """
    z = _unit(z_hat, "z_hat")
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if float(np.linalg.norm(w)) == 0.0:
        raise ValueError("w is zero: the tilting angle is undefined")
    par = float(w @ z)
    perp = float(np.linalg.norm(w - par * z))
    return math.degrees(math.atan2(perp, par))


def min_adversarial(x, w, b, *, overshoot: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Minimal L2 perturbations that flip a linear classifier, and the distances.

    For ``f(x) = w . x + b`` the closest point on the boundary is
    ``x - f(x) w / |w|^2``; the perturbation returned is that step times
    ``1 + overshoot`` so that ``x + delta`` is strictly on the other side, and the distance
    is ``|f(x)| / |w|`` (the norm of the step without overshoot). No box constraint
    (e.g. pixel range) is applied. ``x``: (d,) or (n, d). Points exactly on the boundary
    get a zero perturbation.
    """
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    w2 = float(w @ w)
    if w2 == 0.0:
        raise ValueError("w is zero: the classifier has no boundary")
    x = np.asarray(x, dtype=np.float64)
    f = svm_margins(x, w, b)
    delta = -(1.0 + overshoot) * np.multiply.outer(f, w) / w2
    return delta, np.abs(f) / math.sqrt(w2)


def plane_coordinates(x, basis: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Coordinates ``(u, v)`` of points (n, d) in the plane: ``basis @ (x - origin)``."""
    return (np.asarray(x, dtype=np.float64) - origin) @ np.asarray(basis).T


def boundary_in_plane(w, b, basis: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Boundary line ``a u + c v + e = 0`` in the plane's coordinates: returns (a, c, e).

    Exact when ``w`` lies in the plane (true for the tilting plane of ``w``): for a point
    with coordinates ``(u, v)``, ``f = a u + c v + e`` with ``a = w . z_hat``,
    ``c = w . n_hat``, ``e = b + w . origin``. For a plane not containing ``w`` it is the
    boundary's trace on the affine plane through ``origin``.
    """
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    a, c = np.asarray(basis) @ w
    return np.array([a, c, float(b) + float(w @ origin)])


def _within_class_direction(x: np.ndarray, y: np.ndarray, z: np.ndarray, seed: int) -> np.ndarray:
    """Leading principal direction of the class-centred data orthogonal to ``z``.

    Used only as the tilting plane's fallback when ``w`` is parallel to ``z``; power
    iteration from a seeded random start (50 rounds).
    """
    xc = x.copy()
    for s in (-1.0, 1.0):
        xc[y == s] -= xc[y == s].mean(axis=0)
    xc -= np.outer(xc @ z, z)
    v = np.random.default_rng(seed).standard_normal(x.shape[1])
    v -= (v @ z) * z
    for _ in range(50):
        v = xc.T @ (xc @ v)
        v -= (v @ z) * z
        nv = float(np.linalg.norm(v))
        if nv == 0.0:  # no within-class spread outside z: any orthogonal direction
            v = np.zeros(x.shape[1])
            v[int(np.argmin(np.abs(z)))] = 1.0
            v -= (v @ z) * z
            break
        v /= nv
    return v / np.linalg.norm(v)


# ----------------------------------------------------------------------------- sweep

# The sweep's outputs, name -> (dims, description, units or None), in store order.
# Variables over "lam" are measured for every fit; the others once, on the data.
SWEEP_TABLE: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "w": (("lam", "feature"), "SVM normal w", None),
    "b": (("lam",), "SVM bias b", None),
    "converged": (("lam",), "duality gap certifies |w - w*| <= tol |w|", None),
    "objective": (("lam",), "SVM primal objective lam/2|w|^2 + mean hinge", None),
    "duality_gap": (("lam",), "certified bound on objective - optimum", None),
    "iterations": (("lam",), "Newton steps of the SVM solver", None),
    "n_support": (("lam",), "training points with alpha > 0", None),
    "tilting_angle": (("lam",), "angle between w and z_hat", "degree"),
    "train_accuracy": (("lam",), "training accuracy", None),
    "test_accuracy": (("lam",), "test accuracy", None),
    "mean_test_distance": (
        ("lam",),
        "mean L2 distance of all test points to the boundary |w.x+b|/|w|",
        "input",
    ),
    "median_test_distance": (
        ("lam",),
        "median L2 distance of all test points to the boundary |w.x+b|/|w|",
        "input",
    ),
    "perturbation": (
        ("lam", "feature"),
        "minimal L2 perturbation flipping the probe test point (x 1+1e-6)",
        "input",
    ),
    "perturbation_norm": (("lam",), "L2 norm of the probe's perturbation", "input"),
    "perturbation_cosine": (
        ("lam",),
        "cosine between the probe's perturbation and the centroid difference pointing "
        "from its predicted class to the other class",
        None,
    ),
    "probe_decision": (("lam",), "w.x+b at the probe", None),
    "n_hat": (
        ("lam", "feature"),
        "second tilting-plane axis: component of w orthogonal to z_hat, normalised",
        None,
    ),
    "projection": (
        ("lam", "sample", "plane_axis"),
        "training points in the tilting plane, relative to the centroids' midpoint",
        "input",
    ),
    "boundary": (
        ("lam", "coef"),
        "boundary line u*a + v*c + e = 0 in tilting-plane coordinates (a, c, e)",
        None,
    ),
    "z_hat": (("feature",), "unit centroid difference (class -1 to class +1)", None),
    "plane_origin": (("feature",), "midpoint of the two class centroids", "input"),
    "probe": (("feature",), "the probe test point", "input"),
    "train_label": (("sample",), "label (-1/+1) of the projected points", None),
}
SWEEP_PER_LAM = tuple(k for k, (dims, _, _) in SWEEP_TABLE.items() if dims[0] == "lam")


def lambda_grid(lambdas) -> np.ndarray:
    """The sweep's regularisation strengths from the config's ``tilting.lambdas``:
    ``n`` values log-spaced from ``min`` to ``max`` (both included), increasing."""
    lo, hi, n = lambdas["min"], lambdas["max"], lambdas["n"]
    if not (0 < lo <= hi and n >= 1):
        raise ValueError(f"lambdas need 0 < min <= max and n >= 1, got {dict(lambdas)}")
    return np.logspace(np.log10(lo), np.log10(hi), n)


def check_probe_index(probe_index: int, n_test: int, dataset: str) -> None:
    """A clear error when the config's ``tilting.probe_index`` is outside the two-class
    test split of ``dataset`` (``n_test`` images)."""
    if not 0 <= probe_index < n_test:
        raise ValueError(
            f"tilting.probe_index {probe_index} is outside the two-class test split of "
            f"{dataset} ({n_test} images); allowed: 0..{n_test - 1}"
        )


def sweep_attrs(data: xr.Dataset, dataset: str, classes) -> dict:
    """Attrs a sweep store gets from its natural-image store: the dataset, the two
    classes (index and name, class -1 first) and the image shape (channel, row, col)."""
    names = {
        int(c): str(n) for c, n in zip(data.class_index.values, data.class_name.values, strict=True)
    }
    return {
        "dataset": dataset,
        "classes": [int(c) for c in classes],
        "class_names": [names[int(c)] for c in classes],
        "image_shape": [data.sizes["channel"], data.sizes["row"], data.sizes["col"]],
    }


def sweep(
    x_train,
    y_train,
    x_test,
    y_test,
    lambdas,
    probe_index: int,
    *,
    seed: int = 0,
    max_iter: int = 500,
    tol: float = 1e-4,
    max_projected: int = 2000,
) -> xr.Dataset:
    """Fit the SVM at each ``lam`` and measure its tilting (paper Fig. 5 and 6).

    For every ``lam`` (independent fits from ``w = 0``, so the result does not depend on
    the order of ``lambdas``): the tilting angle between ``w`` and the training set's
    ``z_hat``; train and test accuracy; the mean and median L2 distance of *all* test
    points to the boundary (the minimal adversarial distance of a linear classifier, no
    pixel-range clipping); the minimal adversarial perturbation of the test point
    ``probe_index`` and its cosine with the centroid difference oriented from the probe's
    predicted class towards the other class (this equals ``cos(tilting angle)`` for a
    linear classifier, so it tends to 1 when regularisation untilts the boundary); and
    the projection of (at most ``max_projected``, a seeded random subset of) the training
    points on the tilting plane of that ``lam``, with coordinates taken relative to the
    midpoint of the two class centroids, plus the boundary line in those coordinates.
    The store's variables are those of :data:`SWEEP_TABLE`.

    When ``w`` is exactly parallel to ``z_hat`` (very high ``lam``) the tilting plane is
    completed with the leading within-class principal direction orthogonal to ``z_hat``
    (see :func:`tilting_plane`).
    """
    x_tr, y_tr = _as_xy(x_train, y_train)
    x_te, y_te = _as_xy(x_test, y_test)
    if x_te.shape[1] != x_tr.shape[1]:
        raise ValueError("train and test inputs have different numbers of features")
    lambdas = np.asarray(lambdas, dtype=np.float64).reshape(-1)
    if lambdas.size == 0:
        raise ValueError("lambdas is empty")
    probe_index = int(probe_index)
    if not 0 <= probe_index < x_te.shape[0]:
        raise IndexError(f"probe_index {probe_index} outside the test set ({x_te.shape[0]})")
    n_tr, d = x_tr.shape
    mu_neg, mu_pos = class_centroids(x_tr, y_tr)
    z = _unit(mu_pos - mu_neg, "the centroid difference")
    origin = 0.5 * (mu_neg + mu_pos)
    if n_tr > max_projected:
        picked = np.sort(np.random.default_rng(seed).choice(n_tr, max_projected, replace=False))
    else:
        picked = np.arange(n_tr)
    probe = x_te[probe_index]
    fallback = None

    rows: dict[str, list] = {k: [] for k in SWEEP_PER_LAM}
    for lam in lambdas:
        w, b, info = fit_linear_svm(x_tr, y_tr, lam, max_iter=max_iter, tol=tol, seed=seed)
        try:
            basis = tilting_plane(w, z)
        except ValueError:
            if fallback is None:
                fallback = _within_class_direction(x_tr, y_tr, z, seed)
            basis = tilting_plane(w, z, fallback=fallback)
        _, dist = min_adversarial(x_te, w, b)
        delta, _ = min_adversarial(probe, w, b)
        f_probe = float(svm_margins(probe, w, b))
        toward = -np.sign(f_probe) * z  # towards the class the probe is not predicted in
        dn = float(np.linalg.norm(delta))
        row = {k: info[k] for k in ("converged", "objective", "duality_gap", "iterations")}
        row |= {
            "w": w,
            "b": b,
            "n_support": info["n_support"],
            "tilting_angle": tilting_angle(w, z),
            "train_accuracy": float(np.mean(np.sign(svm_margins(x_tr, w, b)) == y_tr)),
            "test_accuracy": float(np.mean(np.sign(svm_margins(x_te, w, b)) == y_te)),
            "mean_test_distance": float(np.mean(dist)),
            "median_test_distance": float(np.median(dist)),
            "perturbation": delta,
            "perturbation_norm": dn,
            "perturbation_cosine": float(delta @ toward) / dn if dn > 0 else math.nan,
            "probe_decision": f_probe,
            "n_hat": basis[1],
            "projection": plane_coordinates(x_tr[picked], basis, origin),
            "boundary": boundary_in_plane(w, b, basis, origin),
        }
        for k in SWEEP_PER_LAM:
            rows[k].append(row[k])

    values = {
        k: np.stack(v) if len(SWEEP_TABLE[k][0]) > 1 else np.array(v) for k, v in rows.items()
    }
    values |= {
        "z_hat": z,
        "plane_origin": origin,
        "probe": probe,
        "train_label": y_tr[picked].astype(np.int8),
    }
    return table_dataset(
        SWEEP_TABLE,
        values,
        coords={
            "lam": lambdas,
            "feature": np.arange(d),
            "sample": picked,
            "plane_axis": list(PLANE_AXES),
            "coef": list(BOUNDARY_COEFS),
        },
        attrs={
            "probe_index": probe_index,
            "probe_label": int(y_te[probe_index]),
            "seed": int(seed),
            "max_iter": int(max_iter),
            "tol": float(tol),
            "n_train": int(n_tr),
            "n_test": int(x_te.shape[0]),
            "objective": "lam/2 |w|^2 + mean_i max(0, 1 - y_i (w.x_i + b))",
        },
    )


# ----------------------------------------------------------------------------- bootstrap

#: bootstrap offset of the resampling generator's seed (independent of the sweep's draws)
BOOTSTRAP_SEED_OFFSET = 70_000
BOOTSTRAP_TABLE: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "tilting_angle": (("replicate", "lam"), "angle between w and the resample's z_hat", "degree"),
    "mean_test_distance": (
        ("replicate", "lam"),
        "mean L2 distance of the (fixed) test points to the boundary",
        None,
    ),
    "median_test_distance": (("replicate", "lam"), "median of the same distances", None),
    "test_accuracy": (("replicate", "lam"), "accuracy on the (fixed) test points", None),
    "train_accuracy": (("replicate", "lam"), "accuracy on the resampled training set", None),
    "converged": (("replicate", "lam"), "SVM solver converged", None),
}


def bootstrap_sweep(
    x_train,
    y_train,
    x_test,
    y_test,
    lambdas,
    replicates: int,
    *,
    seed: int = 0,
    max_iter: int = 500,
    tol: float = 1e-4,
    log: Callable[[str], None] | None = None,
) -> xr.Dataset:
    """The regularisation sweep refitted on ``replicates`` bootstrap resamples of the
    training set (drawn with replacement within each class, so the class sizes stay;
    generator seeded ``BOOTSTRAP_SEED_OFFSET + seed``): per resample and lambda the
    tilting angle to that resample's centroid difference, the test points' mean and
    median distance to the boundary and the accuracies. The SVM fit itself is
    deterministic; this is the spread the angle and distance curves of Fig. 6 owe to
    the particular training set."""
    x_tr, y_tr = _as_xy(x_train, y_train)
    x_te, y_te = _as_xy(x_test, y_test)
    lambdas = np.asarray(lambdas, dtype=np.float64).reshape(-1)
    if replicates < 1:
        raise ValueError(f"need at least one bootstrap replicate, got {replicates}")
    rng = np.random.default_rng(BOOTSTRAP_SEED_OFFSET + seed)
    classes = [np.flatnonzero(y_tr == c) for c in (-1.0, 1.0)]
    out = {k: np.full((replicates, lambdas.size), np.nan) for k in BOOTSTRAP_TABLE}
    out["converged"] = np.zeros((replicates, lambdas.size), dtype=bool)
    for r in range(replicates):
        idx = np.concatenate([rng.choice(c, size=c.size, replace=True) for c in classes])
        xb, yb = x_tr[idx], y_tr[idx]
        mu_neg, mu_pos = class_centroids(xb, yb)
        z = _unit(mu_pos - mu_neg, "the centroid difference")
        for j, lam in enumerate(lambdas):
            w, b, info = fit_linear_svm(xb, yb, lam, max_iter=max_iter, tol=tol, seed=seed)
            dist = min_adversarial(x_te, w, b)[1]
            out["tilting_angle"][r, j] = tilting_angle(w, z)
            out["mean_test_distance"][r, j] = float(np.mean(dist))
            out["median_test_distance"][r, j] = float(np.median(dist))
            out["test_accuracy"][r, j] = float(np.mean(np.sign(svm_margins(x_te, w, b)) == y_te))
            out["train_accuracy"][r, j] = float(np.mean(np.sign(svm_margins(xb, w, b)) == yb))
            out["converged"][r, j] = info["converged"]
        if log:
            log(
                f"bootstrap {r + 1}/{replicates}: angle "
                f"{out['tilting_angle'][r, 0]:.1f} -> {out['tilting_angle'][r, -1]:.1f} deg over "
                "the sweep"
            )
    return table_dataset(
        BOOTSTRAP_TABLE,
        out,
        coords={"replicate": np.arange(replicates), "lam": lambdas},
        attrs={
            "seed": int(seed),
            "seed_offset": BOOTSTRAP_SEED_OFFSET,
            "n_train": int(x_tr.shape[0]),
            "n_test": int(x_te.shape[0]),
            "resampling": "with replacement within each class",
        },
    )


# ----------------------------------------------------------------------------- toy (Fig. 3/4)

TOY_SPACES = ("2d", "highdim")
TOY_FITS = ("low_reg", "high_reg", "tilted_reference")


def make_toy_bars(
    n_per_class: int,
    n_dims: int,
    *,
    gap: float = 1.0,
    bar_length: float = 4.0,
    noise_std: float = 0.1,
    class_std: float = 0.0,
    symmetric: bool = True,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The two "bars" of the paper's toy problem (Fig. 3/4), embedded in ``n_dims``.

    Class -1 (first ``n_per_class`` rows) and class +1 lie on two parallel segments:
    coordinate 0 is ``-gap/2`` or ``+gap/2`` (the class direction), coordinate 1 is
    uniform on ``[-bar_length/2, bar_length/2]`` (the within-class direction, the length of
    the bars), and the ``n_dims - 2`` remaining coordinates are i.i.d.
    ``N(0, noise_std^2)``: a data manifold that is flat in most directions. The draws of
    the labels and of coordinate 1 do not depend on ``n_dims``, so the 2-D problem and its
    high-dimensional version share the same bars (the paper's point that the two are
    "structurally very similar").

    ``symmetric=True`` makes the sample's centroid difference exactly the population's,
    ``gap * e_0``: the two classes share their positions along the bars (row ``k`` of
    each class has the same coordinate 1) and each class's noise is centred on its own
    mean. Then ``z_hat = e_0`` exactly and a tilting angle measures the tilt of ``w``
    alone, not sampling noise in the centroids.
    """
    if n_per_class < 1 or n_dims < 2:
        raise ValueError("need n_per_class >= 1 and n_dims >= 2")
    rng = np.random.default_rng(seed)
    y = np.repeat([-1.0, 1.0], n_per_class)
    half = 0.5 * bar_length
    if symmetric:
        t = np.tile(rng.uniform(-half, half, size=n_per_class), 2)
    else:
        t = rng.uniform(-half, half, size=y.size)
    jitter = rng.standard_normal(y.size) * class_std
    noise = rng.standard_normal((y.size, n_dims - 2)) * noise_std
    if symmetric:
        for s in (-1.0, 1.0):
            jitter[y == s] -= jitter[y == s].mean()
            if n_dims > 2:
                noise[y == s] -= noise[y == s].mean(axis=0)
    x = np.concatenate([(0.5 * gap * y + jitter)[:, None], t[:, None], noise], axis=1)
    return x, y


def _largest_separating_tilt(x, y, z, v, origin) -> float:
    """Largest rotation (degrees) of ``w`` from ``z`` towards ``v`` (boundary through
    ``origin``) that still classifies all points correctly; 0 if ``z`` itself does not."""
    u = (x - origin) @ z
    t = (x - origin) @ v
    if np.any(y * u <= 0.0):
        return 0.0
    limit = y * t < 0.0  # points that rotating towards v moves towards the boundary
    if not limit.any():
        return 90.0
    return float(np.degrees(np.min(np.arctan2(y[limit] * u[limit], -y[limit] * t[limit]))))


_SF = ("space", "fit")
#: The toy store's variables: name -> (dims, description, units), in store order.
TOY_TABLE: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "tilting_angle": (_SF, "angle between w and z_hat", "degree"),
    "train_accuracy": (_SF, "training accuracy", None),
    "test_accuracy": (_SF, "accuracy on a second draw of the toy", None),
    "mean_test_distance": (_SF, "mean L2 distance of test points to the boundary", None),
    "min_train_distance": (_SF, "smallest L2 distance of a training point to it", None),
    "w_bar_plane": (
        _SF + ("bar_axis",),
        "unit w's components along the class (0) and bar (1) coordinates",
        None,
    ),
    "w_noise_norm": (_SF, "norm of unit w's component in the flat noise directions", None),
    "b": (_SF, "bias of the classifier", None),
    "lam": (_SF, "SVM regularisation (NaN: hand-made)", None),
    "converged": (_SF, "SVM solver converged (True for hand-made)", None),
    "projection": (
        _SF + ("sample", "plane_axis"),
        "training points in the classifier's tilting plane, relative to the centroids' midpoint",
        None,
    ),
    "boundary": (
        _SF + ("coef",),
        "boundary line u*a + v*c + e = 0 in tilting-plane coordinates (a, c, e)",
        None,
    ),
    "label": (("sample",), "class label -1/+1", None),
}


def toy_2d_vs_highdim(
    *,
    n_per_class: int = 50,
    n_dims: int = 785,
    gap: float = 1.0,
    bar_length: float = 4.0,
    noise_std: float = 0.05,
    class_std: float = 0.15,
    lam_low: float = 1e-4,
    lam_high: float = 10.0,
    reference_tilt_deg: float | None = None,
    seed: int = 0,
    max_iter: int = 500,
    tol: float = 1e-4,
) -> xr.Dataset:
    """The paper's Fig. 3/4 toy: the same two classes in 2 and in ``n_dims`` dimensions.

    The blog text only says that the classes ("I" and "J", drawn as light and dark blue
    bars in Fig. 4) are structurally the same in 2 and 785 dimensions, that a *tilted*
    weight vector separates them while its boundary lies close to the data, and that a
    boundary along the centroid difference bisects them. What was chosen here:

    * data: :func:`make_toy_bars` (symmetric draw): two parallel bars of length
      ``bar_length``, ``gap`` apart, with a small thickness ``class_std`` along the class
      direction (the classes stay separable in the 2-D subspace with the defaults), plus
      ``n_dims - 2`` flat Gaussian directions of std ``noise_std`` in the
      high-dimensional space; the test set is a second draw (``seed + 1``);
    * three classifiers per space: the SVM at ``lam_low`` (weak regularisation) and at
      ``lam_high`` (strong), and the hand-made ``tilted_reference`` of Fig. 3 (left):
      ``w`` rotated from ``z_hat`` by ``reference_tilt_deg`` towards the bars' direction,
      boundary through the centroids' midpoint. Its default is 0.9 times the largest such
      rotation that still classifies every training point correctly, so it separates the
      classes but passes close to the ends of the bars.

    Why the bars have a thickness: with infinitely thin bars (``class_std=0``) and the
    symmetric draw, no direction of the flat noise can enlarge the margin (each class's
    noise is centred, so some point of each class has a non-positive projection on any
    noise direction), and the SVM does not tilt at any ``lam``: the high-dimensional SVM
    then bisects the bars, which is Fig. 3 (right) but leaves nothing for the
    regularisation to control. With a thickness, the weakly regularised SVM tilts in the
    high-dimensional space (it uses the flat directions to push the training points near
    the gap away from the boundary, the paper's overfitting by boundary tilting) but not
    in 2-D, where there is no spare direction, while its test accuracy hardly changes;
    the strongly regularised SVM is the centroid-difference classifier in both spaces.

    Each classifier gets its own tilting plane (completed with the bars' direction when
    ``w`` is parallel to ``z_hat``); projections are relative to the midpoint of the class
    centroids and the boundary is given as the coefficients ``(a, c, e)`` of
    ``a u + c v + e = 0`` in those coordinates.
    """
    lams = {"low_reg": lam_low, "high_reg": lam_high, "tilted_reference": math.nan}
    n = 2 * n_per_class
    shape = (len(TOY_SPACES), len(TOY_FITS))
    out = {
        k: np.full(shape, math.nan)
        for k in (
            "tilting_angle train_accuracy test_accuracy mean_test_distance min_train_distance "
            "w_noise_norm b"
        ).split()
    }
    out["w_bar_plane"] = np.full(shape + (2,), math.nan)
    out["projection"] = np.full(shape + (n, 2), math.nan)
    out["boundary"] = np.full(shape + (3,), math.nan)
    out["converged"] = np.zeros(shape, dtype=bool)
    labels = None
    for i, dims in enumerate((2, n_dims)):
        kw = dict(gap=gap, bar_length=bar_length, noise_std=noise_std, class_std=class_std)
        x, y = make_toy_bars(n_per_class, dims, seed=seed, **kw)
        x_te, y_te = make_toy_bars(n_per_class, dims, seed=seed + 1, **kw)
        labels = y
        mu_neg, mu_pos = class_centroids(x, y)
        z = _unit(mu_pos - mu_neg, "the centroid difference")
        origin = 0.5 * (mu_neg + mu_pos)
        bar_dir = np.zeros(dims)
        bar_dir[1] = 1.0
        bar_dir -= (bar_dir @ z) * z
        bar_dir /= np.linalg.norm(bar_dir)
        if reference_tilt_deg is None:
            reference_tilt_deg = 0.9 * _largest_separating_tilt(x, y, z, bar_dir, origin)
        for j, fit in enumerate(TOY_FITS):
            if fit == "tilted_reference":
                th = math.radians(reference_tilt_deg)
                w = math.cos(th) * z + math.sin(th) * bar_dir
                b = -float(w @ origin)
                out["converged"][i, j] = True
            else:
                w, b, info = fit_linear_svm(x, y, lams[fit], max_iter=max_iter, tol=tol, seed=seed)
                out["converged"][i, j] = info["converged"]
            basis = tilting_plane(w, z, fallback=bar_dir)
            out["tilting_angle"][i, j] = tilting_angle(w, z)
            out["train_accuracy"][i, j] = np.mean(np.sign(svm_margins(x, w, b)) == y)
            out["test_accuracy"][i, j] = np.mean(np.sign(svm_margins(x_te, w, b)) == y_te)
            out["mean_test_distance"][i, j] = np.mean(min_adversarial(x_te, w, b)[1])
            out["min_train_distance"][i, j] = np.min(min_adversarial(x, w, b)[1])
            out["w_bar_plane"][i, j] = w[:2] / np.linalg.norm(w)
            out["w_noise_norm"][i, j] = np.linalg.norm(w[2:]) / np.linalg.norm(w)
            out["b"][i, j] = b
            out["projection"][i, j] = plane_coordinates(x, basis, origin)
            out["boundary"][i, j] = boundary_in_plane(w, b, basis, origin)
    out["lam"] = np.array([[lams[f] for f in TOY_FITS]] * 2)
    out["label"] = np.asarray(labels).astype(np.int8)
    return table_dataset(
        TOY_TABLE,
        out,
        coords={
            "space": list(TOY_SPACES),
            "fit": list(TOY_FITS),
            "sample": np.arange(n),
            "plane_axis": list(PLANE_AXES),
            "coef": list(BOUNDARY_COEFS),
            "bar_axis": ["class", "bar"],
            "n_features": ("space", [2, n_dims]),
        },
        attrs={
            "gap": gap,
            "bar_length": bar_length,
            "noise_std": noise_std,
            "class_std": class_std,
            "reference_tilt_deg": reference_tilt_deg,
            "seed": int(seed),
        },
    )


# ----------------------------------------------------------------------------- Fig. 3 panels

FIG3_SPACES = ("2d", "highdim")
FIG3_BOUNDARIES = ("untilted", "tilted")


def make_fig3_segments(
    n_per_class: int,
    n_dims: int,
    *,
    gap: float,
    bar_length: float,
    thickness: float,
    noise_std: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 3's data: each class a thin segment *along* the class direction, the two
    end to end (class -1 on coordinate 0 in ``[-gap/2 - bar_length, -gap/2]``, class +1
    mirrored), coordinate 1 ``N(0, thickness^2)`` and the ``n_dims - 2`` others
    ``N(0, noise_std^2)``: a data manifold flat across the class direction in 2-D
    already, so a boundary can tilt towards coordinate 1 and still separate the classes
    (the article's left panel). The draws do not depend on ``n_dims`` (the same segments
    in 2-D and embedded in ``n_dims``)."""
    rng = np.random.default_rng(seed)
    y = np.repeat([-1.0, 1.0], n_per_class)
    along = 0.5 * gap + rng.uniform(0.0, bar_length, size=y.size)
    across = rng.standard_normal(y.size) * thickness
    noise = rng.standard_normal((y.size, max(0, n_dims - 2))) * noise_std
    return np.concatenate([(y * along)[:, None], across[:, None], noise], axis=1), y


def fig3_panels(
    *,
    n_per_class: int = 50,
    n_dims: int = 785,
    gap: float = 1.0,
    bar_length: float = 4.0,
    noise_std: float = 0.05,
    thickness: float = 0.01,
    tilt_fraction: float = 0.95,
    seed: int = 0,
) -> xr.Dataset:
    """The article's Fig. 3/4 as stated: "high dimensionality is neither necessary nor
    sufficient". The same two classes (:func:`make_fig3_segments`) in 2-D and in
    ``n_dims``-D, each with two boundaries through the centroids' midpoint: ``untilted``
    (``w`` = the centroid difference z_hat, "bisects the classes perfectly") and
    ``tilted`` (``w`` rotated from z_hat towards coordinate 1, across the segments, by
    ``tilt_fraction`` of the largest angle that still classifies every training point of
    the 2-D draw correctly: it separates the classes but lies close to the data).

    Per space and boundary: every test point's (a second draw, ``seed + 1``) L2 distance
    to the boundary (the norm of its minimal adversarial perturbation) and whether it is
    classified correctly; for the figure, the training points' coordinates 0 and 1 (the
    plane both boundaries live in) and the boundary ``w0 u + w1 v + b = 0`` there. Not
    necessary: the tilted 2-D boundary is close to the test points. Not sufficient: the
    untilted ``n_dims``-D boundary is as far from them as in 2-D."""
    n = 2 * n_per_class
    kw = dict(gap=gap, bar_length=bar_length, thickness=thickness, noise_std=noise_std)
    shape = (len(FIG3_SPACES), len(FIG3_BOUNDARIES))
    dist = np.full(shape + (n,), math.nan)
    correct = np.zeros(shape + (n,), dtype=bool)
    points = np.full(shape[:1] + (n, 2), math.nan)
    line = np.full(shape + (3,), math.nan)
    tilt = None
    labels = None
    for i, dims in enumerate((2, n_dims)):
        x, y = make_fig3_segments(n_per_class, dims, seed=seed, **kw)
        x_te, y_te = make_fig3_segments(n_per_class, dims, seed=seed + 1, **kw)
        labels = y
        mu_neg, mu_pos = class_centroids(x, y)
        z = _unit(mu_pos - mu_neg, "the centroid difference")
        origin = 0.5 * (mu_neg + mu_pos)
        across = np.zeros(dims)
        across[1] = 1.0
        across -= (across @ z) * z
        across /= np.linalg.norm(across)
        if tilt is None:  # from the 2-D draw; the same angle in n_dims
            tilt = tilt_fraction * _largest_separating_tilt(x, y, z, across, origin)
        points[i] = x[:, :2]
        for j, kind in enumerate(FIG3_BOUNDARIES):
            th = math.radians(tilt if kind == "tilted" else 0.0)
            w = math.cos(th) * z + math.sin(th) * across
            b = -float(w @ origin)
            dist[i, j] = min_adversarial(x_te, w, b)[1]
            correct[i, j] = np.sign(svm_margins(x_te, w, b)) == y_te
            line[i, j] = (w[0], w[1], b)
    return xr.Dataset(
        {
            "distance": var(
                dist,
                ("space", "boundary", "sample"),
                "L2 distance of a test point to the boundary (its minimal perturbation)",
            ),
            "correct": var(
                correct, ("space", "boundary", "sample"), "test point classified correctly"
            ),
            "train_points": var(
                points,
                ("space", "train_sample", "plane_axis"),
                "training points: coordinates 0 (class direction) and 1 (across)",
            ),
            "train_label": var(labels.astype(np.int8), ("train_sample",), "class label -1/+1"),
            "boundary_line": var(
                line,
                ("space", "boundary", "coef"),
                "boundary w0 u + w1 v + b = 0 in coordinates 0 and 1 (unit w)",
            ),
        },
        coords={
            "space": list(FIG3_SPACES),
            "boundary": list(FIG3_BOUNDARIES),
            "sample": np.arange(n),
            "train_sample": np.arange(n),
            "plane_axis": ["class_direction", "across"],
            "coef": list(BOUNDARY_COEFS),
            "n_features": ("space", [2, n_dims]),
        },
        attrs={
            "tilt_deg": float(tilt),
            "gap": gap,
            "bar_length": bar_length,
            "thickness": thickness,
            "noise_std": noise_std,
            "tilt_fraction": tilt_fraction,
            "seed": int(seed),
        },
    )


def fig3_metrics(store: xr.Dataset) -> dict:
    """``fig3/<space>-<boundary>/{mean_test_distance, median_test_distance,
    test_accuracy}``, ``fig3/<space>/n_features`` and ``fig3/tilt_deg``."""
    m: dict = {"fig3/tilt_deg": _json_float(store.attrs["tilt_deg"])}
    for space in store.space.values:
        m[f"fig3/{space}/n_features"] = int(store.n_features.sel(space=space))
        for kind in store.boundary.values:
            cell = store.sel(space=space, boundary=kind)
            key = f"fig3/{space}-{kind}"
            m[f"{key}/mean_test_distance"] = _json_float(cell.distance.mean())
            m[f"{key}/median_test_distance"] = _json_float(np.median(cell.distance.values))
            m[f"{key}/test_accuracy"] = _json_float(cell.correct.mean())
    return m


# ----------------------------------------------------------------------------- metrics

CLAIM_COSINE_THRESHOLD = 0.95


def _json_float(v) -> float | None:
    """Plain Python float, or None for NaN / inf (json has no NaN)."""
    v = float(v)
    return v if math.isfinite(v) else None


def tilting_metrics(
    sweep_store: xr.Dataset,
    toy_store: xr.Dataset | None = None,
    *,
    monotone_tol_deg: float | None = None,
) -> dict:
    """Headline numbers of a :func:`sweep` store (and of a :func:`toy_2d_vs_highdim` store).

    Returns a flat, json-serialisable dict (plain floats / ints / bools / lists; NaN and
    inf become None) with "/"-separated keys; the caller prefixes them (e.g.
    ``tilting/<dataset>/``). The sweep is read in increasing ``lam`` whatever the order
    of the store; "low_reg" is the smallest ``lam``, "high_reg" the largest.

    Sweep keys:

    * ``n_lam``, ``lam_low_reg``, ``lam_high_reg``: number of lambdas, smallest, largest;
    * ``tilting_angle_deg_low_reg`` / ``_high_reg``: angle between ``w`` and ``z_hat``
      (degrees) at the smallest / largest ``lam``;
    * ``perturbation_cosine_low_reg`` / ``_high_reg``: cosine between the probe's minimal
      perturbation and the centroid difference (= cos of the tilting angle);
    * ``perturbation_norm_low_reg`` / ``_high_reg``: L2 norm of that perturbation;
    * ``mean_test_distance_low_reg`` / ``_high_reg`` and ``median_test_distance_low_reg``
      / ``_high_reg``: mean / median L2 distance of the test points to the boundary;
    * ``test_accuracy_low_reg`` / ``_high_reg``, ``train_accuracy_low_reg`` /
      ``_high_reg``;
    * ``best_test_accuracy``, ``best_lam``: the highest test accuracy over the sweep and its
      ``lam`` (ties: the largest such ``lam``, i.e. the least tilted boundary);
    * ``angle_monotone_fraction``: share of consecutive ``lam`` steps (increasing ``lam``)
      where the angle does not increase by more than ``angle_monotone_tol_deg`` (None with
      a single ``lam``);
    * ``angle_monotone_tol_deg``: that tolerance: ``monotone_tol_deg`` if given, else
      ``degrees(2 tol)`` with the solver's certified relative error ``tol`` of ``w`` from
      the store's attrs (each angle is exact to about ``tol`` radians), else 0;
    * ``angle_spearman_log_lam``, ``angle_spearman_pvalue``: Spearman rank correlation
      (``scipy.stats.spearmanr``) between ``log lam`` and the angle, and its p-value (None
      with fewer than 2 finite values or a constant angle); negative = untilting;
    * ``all_converged`` (bool), ``n_not_converged``: solver certificates over the sweep;
    * ``claim_cosine_to_1`` (bool): perturbation cosine at the largest ``lam`` >=
      ``claim_cosine_threshold`` (0.95); the paper's claim that at high regularisation
      the perturbation "simply consists in a difference of centroids" (False if NaN);
    * ``claim_cosine_threshold``: 0.95;
    * ``claim_angle_decreases`` (bool): angle at the largest ``lam`` < angle at the
      smallest (regularisation untilts the boundary);
    * ``claim_distance_increases`` (bool): mean test distance at the largest ``lam`` >
      at the smallest (and with it, robustness to minimal perturbations);
    * ``per_lam``: list (increasing ``lam``) of dicts with ``lam``, ``tilting_angle_deg``,
      ``test_accuracy``, ``train_accuracy``, ``mean_test_distance``,
      ``median_test_distance``, ``perturbation_cosine``, ``perturbation_norm``,
      ``converged``.

    Toy keys (only with ``toy_store``), for ``<space>`` in ``2d``, ``highdim`` and
    ``<fit>`` in ``low_reg``, ``high_reg``, ``tilted_reference``:

    * ``toy/<space>/<fit>/tilting_angle_deg``, ``.../test_accuracy``,
      ``.../train_accuracy``, ``.../min_train_distance``, ``.../mean_test_distance``,
      ``.../w_noise_norm`` (share of unit ``w`` in the flat noise directions), ``.../lam``
      (None for the hand-made reference), ``.../converged``;
    * ``toy/<space>/n_features``, ``toy/reference_tilt_deg``.
    """
    import scipy.stats  # local: keeps the module's import header untouched

    s = sweep_store.sortby("lam")
    lam = np.asarray(s.lam.values, dtype=np.float64)
    if lam.size == 0:
        raise ValueError("the sweep store has no lambdas")

    def col(name: str) -> np.ndarray:
        return np.asarray(s[name].values, dtype=np.float64)

    angle = col("tilting_angle")
    cos = col("perturbation_cosine")
    conv = np.asarray(s.converged.values, dtype=bool)
    series = {
        "tilting_angle_deg": angle,
        "perturbation_cosine": cos,
        "perturbation_norm": col("perturbation_norm"),
        "mean_test_distance": col("mean_test_distance"),
        "median_test_distance": col("median_test_distance"),
        "test_accuracy": col("test_accuracy"),
        "train_accuracy": col("train_accuracy"),
    }
    m: dict = {
        "n_lam": int(lam.size),
        "lam_low_reg": _json_float(lam[0]),
        "lam_high_reg": _json_float(lam[-1]),
    }
    for name, v in series.items():
        m[f"{name}_low_reg"] = _json_float(v[0])
        m[f"{name}_high_reg"] = _json_float(v[-1])

    acc = series["test_accuracy"]
    if np.isfinite(acc).any():
        best = float(np.nanmax(acc))
        m["best_test_accuracy"] = best
        m["best_lam"] = _json_float(lam[np.flatnonzero(acc == best)[-1]])
    else:
        m["best_test_accuracy"] = m["best_lam"] = None

    if monotone_tol_deg is None:
        tol = sweep_store.attrs.get("tol")
        monotone_tol_deg = math.degrees(2.0 * float(tol)) if tol is not None else 0.0
    m["angle_monotone_tol_deg"] = float(monotone_tol_deg)
    steps = np.diff(angle)
    m["angle_monotone_fraction"] = float(np.mean(steps <= monotone_tol_deg)) if steps.size else None

    ok = np.isfinite(angle) & np.isfinite(lam) & (lam > 0)
    rho = p = math.nan
    if ok.sum() >= 2 and np.ptp(angle[ok]) > 0:
        res = scipy.stats.spearmanr(np.log(lam[ok]), angle[ok])
        rho, p = float(res.statistic), float(res.pvalue)
    m["angle_spearman_log_lam"] = _json_float(rho)
    m["angle_spearman_pvalue"] = _json_float(p)

    m["all_converged"] = bool(conv.all())
    m["n_not_converged"] = int((~conv).sum())
    m["claim_cosine_threshold"] = CLAIM_COSINE_THRESHOLD
    m["claim_cosine_to_1"] = bool(cos[-1] >= CLAIM_COSINE_THRESHOLD)
    m["claim_angle_decreases"] = bool(angle[-1] < angle[0])
    dist = series["mean_test_distance"]
    m["claim_distance_increases"] = bool(dist[-1] > dist[0])
    m["per_lam"] = [
        {"lam": _json_float(lam[k])}
        | {name: _json_float(v[k]) for name, v in series.items()}
        | {"converged": bool(conv[k])}
        for k in range(lam.size)
    ]

    if toy_store is not None:
        m.update({f"toy/{k}": v for k, v in toy_metrics(toy_store).items()})
    return m


def bootstrap_spearman(boot: xr.Dataset, name: str) -> np.ndarray:
    """Per bootstrap resample: Spearman's rho between log lambda and the variable
    ``name`` over the sweep (NaN with fewer than 3 finite lambdas)."""
    b = boot.sortby("lam")
    log_lam = np.log(b.lam.values)
    out = []
    for ys in np.asarray(b[name].values, dtype=np.float64):
        ok = np.isfinite(ys)
        rho = scipy.stats.spearmanr(log_lam[ok], ys[ok]).statistic if ok.sum() > 2 else np.nan
        out.append(float(rho))
    return np.asarray(out)


def bootstrap_metrics(boot: xr.Dataset) -> dict:
    """Numbers of a :func:`bootstrap_sweep` store: ``bootstrap_replicates``; per resample
    statistics as ``{mean, std, n_seeds, per_seed}`` over resamples (``per_seed``: one
    value per resample): ``bootstrap_angle_spearman_log_lam`` and
    ``bootstrap_distance_spearman_log_lam`` (Spearman's rho over the sweep), the angle
    and the mean test distance at the smallest and the largest lambda
    (``bootstrap_tilting_angle_deg_{low,high}_reg``,
    ``bootstrap_mean_test_distance_{low,high}_reg``); ``bootstrap_all_converged``."""
    b = boot.sortby("lam")
    m: dict = {"bootstrap_replicates": int(b.sizes["replicate"])}
    m["bootstrap_angle_spearman_log_lam"] = seed_stat(bootstrap_spearman(b, "tilting_angle"))
    m["bootstrap_distance_spearman_log_lam"] = seed_stat(
        bootstrap_spearman(b, "mean_test_distance")
    )
    for end, i in (("low_reg", 0), ("high_reg", -1)):
        m[f"bootstrap_tilting_angle_deg_{end}"] = seed_stat(b.tilting_angle.values[:, i])
        m[f"bootstrap_mean_test_distance_{end}"] = seed_stat(b.mean_test_distance.values[:, i])
    m["bootstrap_all_converged"] = bool(b.converged.values.all())
    return m


def study_metrics(
    sweeps: dict,
    toy_store: xr.Dataset,
    bootstraps: dict | None = None,
    fig3_store: xr.Dataset | None = None,
) -> dict:
    """The tilting study's metrics.json: ``tilting/<dataset>/<key>`` for the
    :func:`tilting_metrics` of each sweep (``sweeps``: dataset -> store, in order) and the
    :func:`bootstrap_metrics` of its bootstrap store (``bootstraps``, where given), then
    ``tilting/toy-<space>-<fit>/<name>`` (``tilting/toy-<space>/n_features``,
    ``tilting/toy/reference_tilt_deg``) for the :func:`toy_metrics` of the toy, and
    ``tilting/fig3...`` for the :func:`fig3_metrics` of the Fig. 3 store (where given)."""
    m: dict = {}
    for dataset, store in sweeps.items():
        for key, value in tilting_metrics(store).items():
            m[f"tilting/{dataset}/{key}"] = value
        if bootstraps and dataset in bootstraps:
            for key, value in bootstrap_metrics(bootstraps[dataset]).items():
                m[f"tilting/{dataset}/{key}"] = value
    for key, value in toy_metrics(toy_store).items():
        *where, name = key.split("/")
        m[f"tilting/{'-'.join(['toy', *where])}/{name}"] = value
    if fig3_store is not None:
        m.update({f"tilting/{k}": v for k, v in fig3_metrics(fig3_store).items()})
    return m


def toy_metrics(toy_store: xr.Dataset) -> dict:
    """Numbers of a :func:`toy_2d_vs_highdim` store: ``<space>/<fit>/<name>`` for
    tilting_angle_deg, test_accuracy, train_accuracy, min_train_distance,
    mean_test_distance, w_noise_norm, lam (None for the hand-made fit) and converged;
    ``<space>/n_features`` and ``reference_tilt_deg``."""
    m: dict = {}
    toy_vars = {
        "tilting_angle_deg": "tilting_angle",
        "test_accuracy": "test_accuracy",
        "train_accuracy": "train_accuracy",
        "min_train_distance": "min_train_distance",
        "mean_test_distance": "mean_test_distance",
        "w_noise_norm": "w_noise_norm",
        "lam": "lam",
    }
    for space in toy_store.space.values:
        for fit in toy_store.fit.values:
            cell = toy_store.sel(space=space, fit=fit)
            for key, name in toy_vars.items():
                m[f"{space}/{fit}/{key}"] = _json_float(cell[name].values)
            m[f"{space}/{fit}/converged"] = bool(cell.converged.values)
        if "n_features" in toy_store.coords:
            m[f"{space}/n_features"] = int(toy_store.n_features.sel(space=space).values)
    ref = toy_store.attrs.get("reference_tilt_deg")
    m["reference_tilt_deg"] = None if ref is None else _json_float(ref)
    return m
