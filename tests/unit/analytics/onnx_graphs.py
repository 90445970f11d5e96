"""Tiny ONNX detector graphs built with the `onnx` helpers, for the batching tests and bench/batching.py.

- `scored_detector`: a YOLO v8-style head ([N, 4 + 1, K]) whose boxes are fixed and whose scores are the
  base scores × the image's mean brightness, so every image in a batch gets its own answer.
- `conv_detector`: a small convolutional backbone and head with seeded random weights — real arithmetic
  per image, enough for batching to matter in a benchmark.
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _model(nodes: list[onnx.NodeProto], inputs: list, outputs: list, initializers: list) -> bytes:
    graph = helper.make_graph(nodes, "tiny-detector", inputs, outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def scored_detector(
    boxes: list[tuple[float, float, float, float, float]],
    *,
    size: int = 64,
    batch: int | str = "N",
    keep_batch_axis: bool = True,
    padding_bytes: int = 0,
) -> bytes:
    """Candidates (cx, cy, w, h, base score) in input pixels; score = base × mean(image) per image.

    `batch`: the input's batch axis ("N" dynamic, or a fixed size). `keep_batch_axis=False` makes an
    output that ignores the batch (always [1, 5, K]), as some exported models do. `padding_bytes`
    adds an unused weight so the model file has a chosen size (for memory-budget tests).
    """
    table = np.array(boxes, np.float32).T[None]  # [1, 5, K]
    coords, scores = table.copy(), table.copy()
    coords[:, 4, :] = 0
    scores[:, :4, :] = 0
    inits = [
        numpy_helper.from_array(coords, "coords"),
        numpy_helper.from_array(scores, "scores"),
        numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "per_image"),
    ]
    if padding_bytes:
        inits.append(numpy_helper.from_array(np.ones(padding_bytes // 4, np.float32), "padding"))
    if keep_batch_axis:
        nodes = [
            helper.make_node("ReduceMean", ["images"], ["mean4"], axes=[1, 2, 3], keepdims=1),
            helper.make_node("Reshape", ["mean4", "per_image"], ["mean"]),
            helper.make_node("Mul", ["scores", "mean"], ["scaled"]),
            helper.make_node("Add", ["coords", "scaled"], ["output0"]),
        ]
        out_shape: list[int | str] = [batch, 5, table.shape[2]]
    else:
        nodes = [
            helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
            helper.make_node("Mul", ["scores", "mean"], ["scaled"]),
            helper.make_node("Add", ["coords", "scaled"], ["output0"]),
        ]
        out_shape = [1, 5, table.shape[2]]
    return _model(
        nodes,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, out_shape)],
        inits,
    )


def conv_detector(*, size: int = 320, classes: int = 1, seed: int = 7) -> bytes:
    """Four stride-2 3×3 convolutions (16, 32, 64, 64 channels) and a 1×1 head: [N, 4 + classes, (size/16)²]."""
    rng = np.random.default_rng(seed)
    widths = [3, 16, 32, 64, 64]
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    previous = "images"
    for i, (cin, cout) in enumerate(itertools.pairwise(widths)):
        weight = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2 / (cin * 9))).astype(np.float32)
        bias = np.zeros(cout, np.float32)
        inits += [numpy_helper.from_array(weight, f"w{i}"), numpy_helper.from_array(bias, f"b{i}")]
        nodes += [
            helper.make_node("Conv", [previous, f"w{i}", f"b{i}"], [f"c{i}"], strides=[2, 2], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
        ]
        previous = f"r{i}"
    head = 4 + classes
    weight = (rng.standard_normal((head, widths[-1], 1, 1)) * 0.05).astype(np.float32)
    bias = np.array([size / 2, size / 2, size / 8, size / 8] + [-4.0] * classes, np.float32)  # few confident boxes
    inits += [
        numpy_helper.from_array(weight, "wh"),
        numpy_helper.from_array(bias, "bh"),
        numpy_helper.from_array(np.array([0, head, -1], np.int64), "flat"),
    ]
    nodes += [
        helper.make_node("Conv", [previous, "wh", "bh"], ["head"]),
        helper.make_node("Reshape", ["head", "flat"], ["output0"]),
    ]
    cells = (size // 16) ** 2
    return _model(
        nodes,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["N", head, cells])],
        inits,
    )
