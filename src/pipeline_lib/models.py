"""Natural-image models (DMM App. G): classifiers and autoencoders, built by name
so that a checkpoint loads back into an ``nn.Module`` with one call."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import checkpoints


class MLPClassifier(nn.Module):
    """The DMM MNIST classifier: 784-256-256-10, ReLU, dropout 0.2 (App. G.1)."""

    def __init__(self, in_shape=(1, 28, 28), hidden=(256, 256), n_classes=10, dropout=0.2):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(in_shape)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SmallConvNet(nn.Module):
    """A small conv classifier for 32x32 colour images (CIFAR-10 two-class runs)."""

    def __init__(self, in_shape=(3, 32, 32), n_classes=2, width=32):
        super().__init__()
        c, h, w = in_shape
        self.features = nn.Sequential(
            nn.Conv2d(c, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(4 * width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class MLPAutoencoder(nn.Module):
    """ReLU MLP autoencoder with a k-dimensional code; sigmoid output in [0, 1]."""

    def __init__(self, in_shape=(1, 28, 28), k=16, hidden=(512, 256)):
        super().__init__()
        self.in_shape = tuple(in_shape)
        n = math.prod(in_shape)
        enc: list[nn.Module] = [nn.Flatten()]
        width = n
        for h in hidden:
            enc += [nn.Linear(width, h), nn.ReLU()]
            width = h
        enc.append(nn.Linear(width, k))
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = []
        width = k
        for h in reversed(hidden):
            dec += [nn.Linear(width, h), nn.ReLU()]
            width = h
        dec += [nn.Linear(width, n), nn.Sigmoid(), nn.Unflatten(1, self.in_shape)]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, c: torch.Tensor) -> torch.Tensor:
        return self.decoder(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class VGGAutoencoder(nn.Module):
    """VGG-style conv autoencoder with plain (nearest) upsampling, no unpooling indices
    (DMM App. D.3 / G.2: k = 128 for CIFAR-10); works for 28x28 and 32x32 inputs.
    ``stages``: conv blocks each followed by a 2x2 max pool, channels ``width * 2**i``
    (at most 8 * width); 2 for 28-32 pixels, 5 for ImageNet's 224 (7x7 before the code,
    as VGG-16)."""

    def __init__(self, in_shape=(3, 32, 32), k=128, width=32, stages=2):
        super().__init__()
        c, h, w = in_shape
        self.in_shape = tuple(in_shape)

        def block(i, o):
            return [
                nn.Conv2d(i, o, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(o, o, 3, padding=1),
                nn.ReLU(),
            ]

        chans = [width * 2 ** min(i, 3) for i in range(stages)]
        enc: list[nn.Module] = []
        for i, o in enumerate(chans):
            enc += [*block(c if i == 0 else chans[i - 1], o), nn.MaxPool2d(2)]
        self.encoder_conv = nn.Sequential(*enc)
        self.hq, self.wq = h // 2**stages, w // 2**stages
        if min(self.hq, self.wq) < 1:
            raise ValueError(f"{stages} pooling stages reduce {h}x{w} images to nothing")
        self.code_channels = chans[-1]
        flat = self.code_channels * self.hq * self.wq
        self.encoder_fc = nn.Linear(flat, k)
        self.decoder_fc = nn.Sequential(nn.Linear(k, flat), nn.ReLU())
        dec: list[nn.Module] = []
        for i in range(stages - 1, 0, -1):
            dec += [nn.Upsample(scale_factor=2, mode="nearest"), *block(chans[i], chans[i - 1])]
        self.decoder_conv = nn.Sequential(
            *dec,
            nn.Upsample(size=(h, w), mode="nearest"),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, c, 3, padding=1),
            nn.Sigmoid(),
        )
        self.width = width

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder_fc(self.encoder_conv(x).flatten(1))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        z = self.decoder_fc(code).reshape(-1, self.code_channels, self.hq, self.wq)
        return self.decoder_conv(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class SquiggleCNN(nn.Module):
    """CPU-sized classifier for Squiggles images: ``blocks`` stages of two 3x3 conv +
    batch norm + ReLU layers and a 2x2 max pool, widths ``width * 2**stage``, then a
    global max pool (a self-intersection can be anywhere in the image) and a linear head.

    Weights and activations are kept channels-last: oneDNN's NHWC convolutions run the
    forward and backward passes 1.3-1.4x faster on CPU than NCHW for these narrow layers
    (``make bench``, row P8)."""

    def __init__(self, in_shape=(1, 60, 60), n_classes=2, width=8, blocks=3):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_shape[0]
        for b in range(blocks):
            o = width * 2**b
            layers += [
                nn.Conv2d(c, o, 3, padding=1),
                nn.BatchNorm2d(o),
                nn.ReLU(),
                nn.Conv2d(o, o, 3, padding=1),
                nn.BatchNorm2d(o),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            c = o
        self.features = nn.Sequential(*layers, nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.head = nn.Linear(c, n_classes)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.contiguous(memory_format=torch.channels_last)))


class ResNet34Gray(nn.Module):
    """torchvision's ResNet-34 (Squiggles Sec. 4.1) with a one-channel first conv."""

    def __init__(self, in_shape=(1, 60, 60), n_classes=2):
        super().__init__()
        from torchvision.models import resnet34

        self.net = resnet34(weights=None, num_classes=n_classes)
        self.net.conv1 = nn.Conv2d(in_shape[0], 64, 7, stride=2, padding=3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TorchvisionResNet(nn.Module):
    """torchvision's ResNet-18/34/50 (DMM Fig. 6's ResNet-50, a CIFAR-10 shell base) for
    ``in_shape`` images. Inputs under 64 pixels a side get the usual small-image stem (a
    3x3 stride-1 first conv, no max pool) so that 32x32 CIFAR images are not reduced to
    1x1 before the last stage; 224x224 ImageNet images keep torchvision's stem, so a
    torchvision state dict (``net.*``) loads into it unchanged."""

    DEPTHS = (18, 34, 50)

    def __init__(self, in_shape=(3, 32, 32), n_classes=10, depth=50, small_stem=None, width=64):
        super().__init__()
        from torchvision import models as tvm

        if depth not in self.DEPTHS:
            raise ValueError(f"ResNet depth must be one of {self.DEPTHS}, got {depth}")
        if width == 64:
            self.net = getattr(tvm, f"resnet{depth}")(weights=None, num_classes=n_classes)
        else:  # every stage's channels scaled by width / 64 (small test configs)
            self.net = _scaled_resnet(depth, n_classes, int(width))
        c, h, w = in_shape
        if small_stem is None:
            small_stem = min(h, w) < 64
        if small_stem:
            self.net.conv1 = nn.Conv2d(c, width, 3, stride=1, padding=1, bias=False)
            self.net.maxpool = nn.Identity()
        elif c != 3:
            self.net.conv1 = nn.Conv2d(c, width, 7, stride=2, padding=3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _scaled_resnet(depth: int, n_classes: int, width: int) -> nn.Module:
    """torchvision's ResNet-``depth`` with ``width`` stem channels instead of 64 and every
    stage scaled alike (torchvision builds its stages from 64 channels; its own
    ``_make_layer`` builds the blocks here too)."""
    from torchvision.models import resnet as tvr

    block, layers = {
        18: (tvr.BasicBlock, [2, 2, 2, 2]),
        34: (tvr.BasicBlock, [3, 4, 6, 3]),
        50: (tvr.Bottleneck, [3, 4, 6, 3]),
    }[depth]

    class Scaled(tvr.ResNet):
        def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
            if planes == 64:  # the first stage: it starts from the stem's channels
                self.inplanes = width
            return super()._make_layer(block, planes * width // 64, blocks, stride, dilate)

    net = Scaled(block, layers, num_classes=n_classes)
    net.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(width)
    net.fc = nn.Linear(8 * width * block.expansion, n_classes)
    return net


class Normalized(nn.Module):
    """``model((x - mean) / std)`` for images in [0, 1]: the input normalisation a
    pretrained torchvision network expects, inside the model, so attacks and projections
    work in pixel space."""

    def __init__(self, model: nn.Module, mean, std):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) / self.std)


class ClassSubset(nn.Module):
    """A classifier over all of its training classes with its logits reordered so that
    ``classes`` (original indices, e.g. ImageNet's goldfish and white shark) come first,
    in order, and every other class after them: a dataset store holding only
    ``classes`` labels its images 0..C-1 (class positions), and ``argmax == position``
    still means "predicted that class" against all of the network's classes."""

    def __init__(self, model: nn.Module, classes, n_out: int):
        super().__init__()
        self.model = model
        first = [int(c) for c in classes]
        if len(set(first)) != len(first) or not all(0 <= c < n_out for c in first):
            raise ValueError(f"classes {first} are not distinct indices below {n_out}")
        rest = [c for c in range(n_out) if c not in set(first)]
        self.register_buffer("order", torch.as_tensor(first + rest, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).index_select(1, self.order)


class PretrainedClassifier(nn.Module):
    """A torchvision ResNet with weights read from a local file (no download at run
    time), input normalisation inside, logits reordered to a dataset's classes
    (:class:`ClassSubset`). Built by :func:`build_model` from its kwargs and loaded
    from the checkpoint's state dict like any other model."""

    def __init__(
        self,
        in_shape=(3, 224, 224),
        depth=50,
        n_out=1000,
        classes=(0, 1),
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
    ):
        super().__init__()
        base = TorchvisionResNet(in_shape, n_out, depth, small_stem=False)
        self.net = ClassSubset(Normalized(base, mean, std), classes, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def load_torchvision(self, path: str | Path, state: dict | None = None) -> None:
        """Weights of a torchvision ResNet (its ``state_dict()`` saved with
        ``torch.save``) from ``path``, read with ``weights_only=True``; ``state``: that
        state dict where the caller has read it already (``path`` names it in errors)."""
        if state is None:
            state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        resnet = self.net.model.model.net
        try:
            missing, unexpected = resnet.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # shapes that do not match
            raise ValueError(f"{path} does not fit this ResNet: {exc}") from None
        if missing or unexpected:
            raise ValueError(
                f"{path} is not a state dict of this torchvision ResNet: missing keys "
                f"{missing[:5]}, unexpected keys {unexpected[:5]}"
            )


MODELS: dict[str, type[nn.Module]] = {
    "squiggle_cnn": SquiggleCNN,
    "resnet": TorchvisionResNet,
    "pretrained_resnet": PretrainedClassifier,
    "resnet34_gray": ResNet34Gray,
    "mlp_classifier": MLPClassifier,
    "small_convnet": SmallConvNet,
    "mlp_autoencoder": MLPAutoencoder,
    "vgg_autoencoder": VGGAutoencoder,
}


def build_model(kind: str, **kwargs: Any) -> nn.Module:
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; allowed: {sorted(MODELS)}")
    return MODELS[kind](**kwargs)


def save_model(model: nn.Module, path: str | Path, kind: str, kwargs: dict, **extra) -> None:
    """Checkpoint with everything :func:`load_model` needs (plus provenance etc.)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    checkpoints.save({"kind": kind, "kwargs": kwargs, "state_dict": state, **extra}, path)


def load_model(path: str | Path, map_location: str = "cpu") -> nn.Module:
    """One call from a checkpoint file to an ``nn.Module`` in eval mode."""
    ckpt = checkpoints.load(path, map_location)
    model = build_model(ckpt["kind"], **ckpt["kwargs"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def frozen(model: nn.Module, device: torch.device) -> nn.Module:
    """An eval-mode copy on ``device`` without parameter gradients (attacks only need
    input gradients); the caller's model is left as it was."""
    model = copy.deepcopy(model).to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@torch.no_grad()
def batched(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    batch: int,
    fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The project's batched inference: ``fn(model(x[i : i + batch]))`` for consecutive
    slices of ``x``, concatenated along dim 0, under ``torch.no_grad`` (the model's
    train / eval mode is left as it is: callers set it).

    Each slice is moved to ``device``; by default the device of ``model``'s first
    parameter, and left where it is when ``model`` is a plain callable (e.g. an
    autoencoder's bound ``encode``) or a module without parameters. ``fn`` (default: the
    identity) maps each slice's output, e.g. ``lambda out: out.argmax(1).cpu()``. An
    empty ``x`` is passed through the model once as the empty slice, so the result has
    the output's trailing shape and dtype. Every slice sees exactly the rows a hand-written
    ``for i in range(0, len(x), batch)`` loop gives it, so results are bitwise those of
    such a loop."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if device is None and isinstance(model, nn.Module):
        first = next(model.parameters(), None)
        device = None if first is None else first.device
    outs = []
    for i in range(0, max(1, x.shape[0]), batch):
        xb = x[i : i + batch]
        out = model(xb if device is None else xb.to(device))
        outs.append(out if fn is None else fn(out))
    return torch.cat(outs)
