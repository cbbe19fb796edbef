"""Training the U-Net (the ``train`` extra): a crop cache, a plain resumable loop, ONNX export.

1. :func:`generate_shards` (:mod:`.shards`) renders pages from a PTB-XL split, cuts each lead's
   crop at the working resolution with its exact target, and caches them as ``.npz`` shards.
2. :func:`train` (:mod:`.loop`) samples random windows (:mod:`.windows`: flips, colour and
   baseline jitter) from the cache, minimises BCE + Dice, checks IoU on validation crops
   (fold 9), and saves ``checkpoint.pt`` with ``config.json`` every ``save_every`` steps; run
   again to resume.
3. :func:`export_onnx` (:mod:`.export`) writes ``unet.onnx``, ``unet.json`` (config,
   preprocessing, the command and wall time that made it) and the PyTorch weights.

The model itself is :mod:`.model`. Everything here imports torch: the runtime never does.
"""

from ecgtrace.train.config import TrainConfig
from ecgtrace.train.export import TORCH_WEIGHTS, export_onnx, load_exported, torch_weights_path
from ecgtrace.train.loop import Checkpoint, load_checkpoint, loss_fn, predict, train, validation_iou
from ecgtrace.train.model import UNet, UNetConfig, build_model
from ecgtrace.train.shards import (
    HALF_HEIGHT_MM,
    MAX_COLS,
    Sample,
    crop_samples,
    generate_shards,
    load_shard,
    save_shard,
)
from ecgtrace.train.windows import Batch, Window, batch_of, random_window

__all__ = [
    "HALF_HEIGHT_MM",
    "MAX_COLS",
    "TORCH_WEIGHTS",
    "Batch",
    "Checkpoint",
    "Sample",
    "TrainConfig",
    "UNet",
    "UNetConfig",
    "Window",
    "batch_of",
    "build_model",
    "crop_samples",
    "export_onnx",
    "generate_shards",
    "load_checkpoint",
    "load_exported",
    "load_shard",
    "loss_fn",
    "predict",
    "random_window",
    "save_shard",
    "torch_weights_path",
    "train",
    "validation_iou",
]
