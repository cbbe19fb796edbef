"""The U-Net in PyTorch (the ``train`` extra): a config dataclass and a small model factory.

Input (batch, 4, rows, cols): the crop's RGB, normalised by its paper colour, and a fourth
channel holding each row's distance from the crop's baseline (cm), which tells the network which
trace is the *primary* one; rows and cols must be multiples of ``2 ** depth``. Output
(batch, 1, rows, cols): logits of the primary trace. Inference ships as ONNX
(:mod:`ecgtrace.segment.unet`); this module is for training and export only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    """Widths and depth: level ``k`` has ``base * 2**k`` channels, ``depth`` poolings."""

    in_channels: int = 4
    out_channels: int = 1
    base: int = 8
    depth: int = 4

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Encoder of ``depth`` max-pooled levels, a bottleneck, a decoder with skip connections."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.base * 2**k for k in range(config.depth + 1)]
        self.down = nn.ModuleList()
        cin = config.in_channels
        for w in widths[:-1]:
            self.down.append(_block(cin, w))
            cin = w
        self.pool = nn.MaxPool2d(2)
        self.bottom = _block(widths[-2], widths[-1])
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for w_low, w in zip(widths[:0:-1], widths[-2::-1], strict=True):
            self.up.append(nn.ConvTranspose2d(w_low, w, 2, stride=2))
            self.merge.append(_block(2 * w, w))
        self.head = nn.Conv2d(widths[0], config.out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips), strict=True):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def build_model(config: UNetConfig | None = None) -> UNet:
    """A freshly initialised :class:`UNet` (the factory the training script and tests use)."""
    return UNet(config or UNetConfig())
