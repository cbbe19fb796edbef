"""What decides a training run: :class:`TrainConfig`, saved beside each checkpoint."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ecgtrace.segment.unet import Preprocessing
from ecgtrace.train.model import UNetConfig


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run: the model, the preprocessing, the schedule (``steps``
    of ``batch`` windows of ``window`` (rows, cols) px, AdamW at peak ``lr`` after ``warmup``
    steps), the loss's ``dice_weight``, the baseline jitter of the input and the ``seed``."""

    model: UNetConfig = field(default_factory=UNetConfig)
    prep: Preprocessing = field(default_factory=Preprocessing)
    steps: int = 3000
    batch: int = 16
    window: tuple[int, int] = (128, 256)
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    dice_weight: float = 1.0
    centre_jitter_mm: float = 2.0
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON reads it back (tuples as lists): what a checkpoint stores."""
        result: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return result

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The config :meth:`to_dict` wrote."""
        return cls(
            **{
                **data,
                "model": UNetConfig(**data["model"]),
                "prep": Preprocessing(**data["prep"]),
                "window": tuple(data["window"]),
            }
        )
