"""Plotting shared by every study: the non-interactive backend (set once, here),
the file format figures are saved in, shared palettes and the data-check figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

VARIANT_NAMES = {
    "clean": "clean",
    "adversarial": "adversarial training",
    "random_labels": "random labels (control)",
}


def save(fig, path) -> None:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def natural_samples(ds: xr.Dataset, per_class: int = 8, seed: int = 0):
    """A grid of random training images per class."""
    rng = np.random.default_rng(seed)
    classes = ds.class_index.values
    fig, axes = plt.subplots(
        len(classes), per_class, figsize=(per_class * 0.9, len(classes) * 0.95), squeeze=False
    )
    train = ds.where(ds.split == "train", drop=True)
    for r, c in enumerate(classes):
        idx = np.flatnonzero(train.label.values == c)
        pick = rng.choice(idx, size=min(per_class, len(idx)), replace=False)
        for k in range(per_class):
            ax = axes[r, k]
            ax.axis("off")
            if k < len(pick):
                img = train.image.values[pick[k]].transpose(1, 2, 0)
                ax.imshow(
                    img.squeeze(), cmap="gray" if img.shape[-1] == 1 else None, vmin=0, vmax=1
                )
        axes[r, 0].text(
            -0.1,
            0.5,
            str(ds.class_name.values[r]),
            transform=axes[r, 0].transAxes,
            ha="right",
            va="center",
            fontsize=7,
        )
    fig.suptitle(f"{ds.attrs['title']}: random training images per class", fontsize=9)
    return fig
