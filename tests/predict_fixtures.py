"""Small real artifacts for the application tests: a tiny checkpoint (the
x3d_ugt_tiny network with non-trivial weights, written by the training
checkpointer), its export bundle, and short generated videos."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

LABELS = ["left", "right", "up", "down", "still"]
FRAMES, SIZE = 4, 32
WINDOW_S = 1.0


def write_video(path: Path, num_frames: int, width: int = 64, height: int = 48, fps: float = 8.0,
                seed: int = 0, codec: str = "MJPG") -> Path:
    """A moving bright square on a textured background (MJPG .avi)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 120, (height, width, 3), dtype=np.uint8)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    assert out.isOpened()
    for t in range(num_frames):
        img = base.copy()
        x = int((t * 5) % max(width - 12, 1))
        y = int(height / 2 + (height / 4) * np.sin(t / 3.0)) - 6
        img[max(y, 0):y + 12, x:x + 12] = (40, 220, 250)
        img[:, :, t % 3] = np.clip(img[:, :, t % 3].astype(int) + 3 * t, 0, 255).astype(np.uint8)
        out.write(img)
    out.release()
    return path


def save_checkpoint(workdir: Path, cfg, variables: dict, *, step: int, labels: list[str],
                    train_config: dict, clip_seconds: float | None, clip_source: str) -> Path:
    """Writes ``variables`` of model ``cfg`` as the checkpoint of a run at ``step``
    in ``workdir`` (the metadata ``jaxar.predict`` and export read: labels, the
    training clip duration and its source, the run's ``train_config``)."""
    from jaxar.checkpoint import Checkpointer
    from jaxar.registry import config_to_json
    meta = {"step": step, "data": {"seed": 0, "next_step": step}, "model_config": config_to_json(cfg),
            "class_names": labels, "train_config": train_config,
            "clip_seconds": {"seconds": clip_seconds, "source": clip_source}}
    ck = Checkpointer(workdir, async_save=False)
    ck.save(step, {"params": variables["params"], "batch_stats": variables["batch_stats"]}, meta)
    ck.wait()
    ck.close()
    return workdir


def make_checkpoint(workdir: Path, clip_seconds: float | None = WINDOW_S) -> Path:
    """A checkpoint step directory with the tiny model at ``FRAMES x SIZE``."""
    from jaxar.demo_variables import realistic_variables
    from jaxar.registry import create_config
    cfg = create_config("x3d_ugt_tiny", num_classes=len(LABELS), frames=FRAMES, size=SIZE)
    return save_checkpoint(workdir, cfg, realistic_variables(cfg, seed=3), step=7, labels=LABELS,
                           train_config={"data": {"frames": FRAMES, "size": SIZE}},
                           clip_seconds=clip_seconds, clip_source="test fixture: 8 frames at 8 fps")


def make_bundle(workdir: Path, out: Path) -> Path:
    """Exports the checkpoint (jax2onnx route only, no profile, no TensorRT)."""
    from export.options import ExportOptions
    from export.pipeline import export
    from export.sources import from_checkpoint
    export(from_checkpoint(workdir), out, ExportOptions(routes=("jax2onnx",), savedmodel=False,
                                                        num_clips=2, profile=False, tensorrt=False,
                                                        overwrite=True), log=lambda m: None)
    return out


def make_onnx_bundle(out: Path, frames: int = FRAMES, size: int = SIZE, labels=tuple(LABELS),
                     window_s: float | None = WINDOW_S, convs: int = 0, channels: int = 32,
                     seed: int = 0) -> Path:
    """A bundle around a small hand-built ONNX classifier (real ONNX Runtime
    inference, no export pipeline): per-channel means -> linear layer, or with
    ``convs > 0`` a stack of 3x3 convolutions first (a slower model).
    Writes model.onnx, labels.json, preprocessing.json and metadata.json the
    way export/to_trt.py does (its writers are used for the last two)."""
    import json

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from export.preprocess import spec
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    c = len(labels)
    nodes, inits = [], []
    x = "clip"
    if convs:
        inits.append(numpy_helper.from_array(np.array([1, frames * 3, size, size], np.int64), "shape"))
        nodes.append(helper.make_node("Reshape", [x, "shape"], ["r"]))
        cin, prev = frames * 3, "r"
        for i in range(convs):
            w = rng.normal(0, 0.2 / np.sqrt(cin * 9), (channels, cin, 3, 3)).astype(np.float32)
            inits.append(numpy_helper.from_array(w, f"w{i}"))
            nodes.append(helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], pads=[1, 1, 1, 1]))
            nodes.append(helper.make_node("Relu", [f"c{i}"], [f"a{i}"]))
            cin, prev = channels, f"a{i}"
        nodes.append(helper.make_node("ReduceMean", [prev], ["m"], axes=[2, 3], keepdims=0))
        feat = channels
    else:
        nodes.append(helper.make_node("ReduceMean", [x], ["m"], axes=[1, 3, 4], keepdims=0))
        feat = 3
    inits.append(numpy_helper.from_array(rng.normal(0, 2.0, (feat, c)).astype(np.float32), "W"))
    inits.append(numpy_helper.from_array(rng.normal(0, 0.1, (c,)).astype(np.float32), "b"))
    nodes += [helper.make_node("MatMul", ["m", "W"], ["mm"]), helper.make_node("Add", ["mm", "b"], ["logits"])]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("clip", TensorProto.FLOAT, [1, frames, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, c])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, out / "model.onnx")
    (out / "labels.json").write_text(json.dumps(list(labels)))
    (out / "preprocessing.json").write_text(json.dumps(spec(frames, size, 1)))
    (out / "metadata.json").write_text(json.dumps({"window_seconds": window_s, "window_source": "test"}))
    return out
