"""Export to ONNX (what the runtime loads) and the PyTorch weights kept beside it.

The shipped model is ``src/ecgtrace/weights/unet.onnx`` with ``unet.json`` (config,
preprocessing, the command and wall time that made it); its PyTorch weights are kept out of the
package, in :data:`TORCH_WEIGHTS` (``models/unet.pt`` of the repository), for fine-tuning and
the ONNX-against-PyTorch test. Any other export keeps its ``.pt`` beside its ``.onnx``.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import asdict
from pathlib import Path

import torch

from ecgtrace.io.files import atomic_write_bytes, write_json
from ecgtrace.segment.unet import Preprocessing, weights_path
from ecgtrace.train.model import UNet, UNetConfig, build_model

# The repository's root: src/ecgtrace/train/export.py is three folders below it.
_REPOSITORY = Path(__file__).resolve().parents[3]
TORCH_WEIGHTS = _REPOSITORY / "models" / "unet.pt"
ONNX_OPSET = 17


def torch_weights_path(onnx_path: Path) -> Path:
    """Where the PyTorch weights exported with ``onnx_path`` lie: ``models/<name>.pt`` of the
    repository for a shipped model (:data:`TORCH_WEIGHTS` for the U-Net), else the ``.pt``
    beside it."""
    if Path(onnx_path).resolve().parent == weights_path().resolve().parent:
        return TORCH_WEIGHTS.parent / Path(onnx_path).with_suffix(".pt").name
    return Path(onnx_path).with_suffix(".pt")


def load_exported(path: Path) -> UNet:
    """The PyTorch model (eval mode) exported with the ONNX model ``path`` (config from the
    ``.json`` beside it, weights from :func:`torch_weights_path`)."""
    meta = json.loads(Path(path).with_suffix(".json").read_text())
    model = build_model(UNetConfig(**meta["model"]))
    model.load_state_dict(torch.load(torch_weights_path(path), map_location="cpu"))
    return model.eval()


def onnx_bytes(
    model: torch.nn.Module, example: torch.Tensor, dynamic_axes: dict[str, dict[int, str]]
) -> bytes:
    """``model`` (eval mode) as ONNX, input ``x`` shaped like ``example``, output ``logits``.

    The TorchScript exporter (opset 17) is used: its graph runs about 1.4x faster in
    onnxruntime here than the dynamo exporter's; its deprecation warning is expected.
    """
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (example,),
            buf,  # type: ignore[arg-type]
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes=dynamic_axes,
        )
    return buf.getvalue()


def export_onnx(
    model: UNet, path: Path, *, prep: Preprocessing, meta: dict[str, object] | None = None
) -> None:
    """Write ``path`` (ONNX, dynamic batch/rows/cols), its ``.json`` (config, preprocessing,
    ``meta``) beside it, and the PyTorch weights to :func:`torch_weights_path`."""
    model = model.eval()
    x = torch.zeros(1, model.config.in_channels, 4 * prep.multiple, 8 * prep.multiple)
    axes = {0: "n", 2: "rows", 3: "cols"}
    atomic_write_bytes(path, onnx_bytes(model, x, {"x": axes, "logits": axes}))
    weights = io.BytesIO()
    torch.save(model.state_dict(), weights)
    atomic_write_bytes(torch_weights_path(path), weights.getvalue())
    write_json(
        Path(path).with_suffix(".json"),
        {"model": model.config.to_dict(), "preprocessing": asdict(prep), **(meta or {})},
    )
