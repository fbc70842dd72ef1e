"""Benchmark of Squiggles generation: batched torch + vectorised shapely vs a per-sample loop.

For each variant (Taylor, SineNet) the same ``--n`` latents (``sample_latents``, seed
0) go through two implementations of App. A of Kindermans & Staats:

* ours (``pipeline_lib.studies.squiggles.generators``): ``curve_points`` (batched torch, float32),
  ``render`` (batched nearest-point minimum, one exp per pixel; the no-grad path that
  ``make_dataset`` uses, and the gradient path that attacks use, timed separately)
  and ``labels`` (``shapely.linestrings`` + ``shapely.is_simple`` on the whole batch);
* the loop: per sample, the curve in NumPy (float64), the paper's two-step rescale,
  the image as a Python loop over the 100 points (``np.maximum`` of the RBF images,
  A.3 steps 3-4 literally) and ``shapely.LineString(points).is_simple``.

Both are checked to agree (labels equal, images and points allclose) and one table
gives ms per stage, samples/s and the speed-up ratio (loop time / ours). Ours is the
median of ``--repeats`` runs after a warm-up; the loop runs once. Run it with::

    .venv/bin/python benchmarks/bench_squiggles.py [--n 2000] [--resolution 60]
        [--repeats 3] [--device auto|cpu|cuda] [--threads T] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import shapely
import torch
from _bench_common import setup, table, timed

from pipeline_lib.studies.squiggles import generators as sq


def loop_curve(variant: str, z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """One sample's rescaled curve points (P, 2), float64, A.1 and A.3 steps 1-2 literally."""
    if variant == "taylor":
        a, b = z[:7], z[7:]
        x = sum(a[i - 1] * t**i / math.factorial(i) for i in range(1, 8))
        y = sum(b[i - 1] * t**i / math.factorial(i) for i in range(1, 8))
    else:
        a, b, w, phi = z.reshape(4, 300)
        s = np.sin(w[:, None] * t[None, :] + phi[:, None])
        x, y = a @ s, b @ s
    c = np.stack([x, y], axis=1)
    c = 0.8 / max(np.ptp(c[:, 0]), np.ptp(c[:, 1])) * c
    return c + (1 - c.max(axis=0) - c.min(axis=0)) / 2


def loop_render(c: np.ndarray, n: int) -> np.ndarray:
    """A.3 steps 3-4: X_ij = max_k exp(-n^2 ((i-1)/(n-1) - c_kx)^2 + ((j-1)/(n-1) - c_ky)^2))."""
    g = np.arange(n) / (n - 1)
    img = np.zeros((n, n))
    for cx, cy in c:
        img = np.maximum(img, np.exp(-(n**2) * ((g[:, None] - cx) ** 2 + (g[None, :] - cy) ** 2)))
    return img


def run_loop(variant: str, z: np.ndarray, n: int) -> dict:
    t = sq.t_values(variant)
    pts, imgs, labs = [], [], []
    secs = {"curve": 0.0, "render": 0.0, "label": 0.0}
    for zi in z:
        t0 = time.perf_counter()
        c = loop_curve(variant, zi, t)
        t1 = time.perf_counter()
        img = loop_render(c, n)
        t2 = time.perf_counter()
        lab = not shapely.LineString(c).is_simple
        t3 = time.perf_counter()
        secs["curve"] += t1 - t0
        secs["render"] += t2 - t1
        secs["label"] += t3 - t2
        pts.append(c)
        imgs.append(img)
        labs.append(lab)
    return {
        "secs": secs,
        "points": np.stack(pts),
        "images": np.stack(imgs)[:, None],
        "labels": np.array(labs, dtype=np.int8),
    }


def bench_variant(variant: str, args, device: torch.device) -> tuple[list[list[str]], dict]:
    n, res = args.n, args.resolution
    z = sq.sample_latents(variant, n, 0)
    zd = z.to(device)

    def curve():
        with torch.no_grad():
            return sq.curve_points(variant, zd)

    t_curve = timed(curve, args.repeats, device)
    pts = t_curve[2]
    t_render = timed(lambda: sq.render(pts, res), args.repeats, device)
    pts_cpu = pts.cpu()
    t_label = timed(lambda: sq.labels(pts_cpu), args.repeats, device)
    with torch.no_grad():
        t_grad = timed(lambda: sq.render(pts, res, differentiable=True), args.repeats, device)
    ours = {"curve": t_curve[0], "render": t_render[0], "label": t_label[0]}
    ours["total"] = sum(ours.values())

    t0 = time.perf_counter()
    loop = run_loop(variant, z.double().numpy(), res)
    loop_total = time.perf_counter() - t0
    lsecs = {**loop["secs"], "total": loop_total}

    img = t_render[2].cpu().double().numpy()
    img_grad = t_grad[2].cpu().double().numpy()
    # the rendering formula alone: our render of the loop's float64 points
    img64 = sq.render(torch.from_numpy(loop["points"]), res).numpy()
    diff_pts = float(np.abs(pts_cpu.double().numpy() - loop["points"]).max())
    diff_img = float(np.abs(img - loop["images"]).max())
    diff_img64 = float(np.abs(img64 - loop["images"]).max())
    diff_grad = float(np.abs(img_grad - img).max())
    mismatch = int((t_label[2] != loop["labels"]).sum())
    agree = (
        mismatch == 0
        and diff_pts < 1e-5
        and np.allclose(img64, loop["images"], rtol=1e-12, atol=1e-14)
        and diff_img < 1e-3
    )
    print(
        f"{variant}: labels equal {mismatch == 0} ({mismatch} of {n} differ); max |diff| "
        f"points {diff_pts:.1e} (our float32 vs loop float64), images {diff_img:.1e} "
        f"(same), images from the loop's points {diff_img64:.1e} (float64 both), grad path "
        f"vs no-grad path {diff_grad:.1e}; self-intersecting {t_label[2].mean():.3f}; "
        f"agree {agree}"
    )

    rows = []
    for stage in ("curve", "render", "label", "total"):
        o, lp = ours[stage], lsecs[stage]
        rows.append(
            [
                variant,
                stage,
                f"{o * 1e3:.1f}",
                f"{lp * 1e3:.1f}",
                f"{n / o:,.0f}",
                f"{n / lp:,.0f}",
                f"{lp / o:.1f}x",
            ]
        )
    rows.append(
        [
            variant,
            "render (grad path)",
            f"{t_grad[0] * 1e3:.1f}",
            f"{lsecs['render'] * 1e3:.1f}",
            f"{n / t_grad[0]:,.0f}",
            f"{n / lsecs['render']:,.0f}",
            f"{lsecs['render'] / t_grad[0]:.1f}x",
        ]
    )
    record = {
        "n": n,
        "resolution": res,
        "ours_s": ours,
        "ours_render_grad_path_s": t_grad[0],
        "loop_s": lsecs,
        "ratio": {k: lsecs[k] / ours[k] for k in ours},
        "images_per_s": {"ours": n / ours["render"], "loop": n / lsecs["render"]},
        "labels_per_s": {"ours": n / ours["label"], "loop": n / lsecs["label"]},
        "samples_per_s_total": {"ours": n / ours["total"], "loop": n / loop_total},
        "label_mismatches": mismatch,
        "max_abs_image_diff": diff_img,
        "max_abs_image_diff_same_points_float64": diff_img64,
        "max_abs_points_diff": diff_pts,
        "grad_vs_nograd_max_abs_diff": diff_grad,
        "self_intersecting_fraction": float(t_label[2].mean()),
        "agree": bool(agree),
    }
    return rows, record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="samples per variant (default 2000)")
    ap.add_argument("--resolution", type=int, default=60, help="image side (default 60)")
    ap.add_argument("--variants", nargs="+", default=list(sq.VARIANTS), choices=sq.VARIANTS)
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats of ours (median)")
    ap.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    device, dev_name = setup(args.device, args.threads)
    print(
        f"bench_squiggles: torch {torch.__version__}, shapely {shapely.__version__} "
        f"(GEOS {shapely.geos_version_string}), device {device} ({dev_name}), threads "
        f"{torch.get_num_threads()}, n {args.n}, resolution {args.resolution}, "
        f"repeats {args.repeats}"
    )
    t0 = time.perf_counter()
    rows, records = [], {}
    for v in args.variants:
        r, rec = bench_variant(v, args, device)
        rows += r
        records[v] = rec
    print()
    table(["variant", "stage", "ours ms", "loop ms", "ours/s", "loop/s", "ratio"], rows, left=2)
    print(
        "ratio = loop time / ours; 'total' = curve + render + label "
        "(generation + labelling); the loop is one process-local NumPy + shapely pass"
    )
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    if args.json is not None:
        meta = {
            "torch": torch.__version__,
            "shapely": shapely.__version__,
            "geos": shapely.geos_version_string,
            "device": str(device),
            "device_name": dev_name,
            "threads": torch.get_num_threads(),
            "repeats": args.repeats,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "variants": records}, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
