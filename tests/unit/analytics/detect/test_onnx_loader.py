"""The YOLO-family ONNX loader, run by ONNX Runtime on tiny graphs built here with the `onnx` helpers.

The graphs emit fixed raw YOLO outputs (in model-input pixels), so each test knows exactly which
boxes the decoder must return: letterbox undone, scores thresholded, NMS applied, classes named.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from vms.analytics.detect.onnx_loader import OnnxDetector, letterbox
from vms.analytics.sessions import SessionCache

FRAME = np.zeros((480, 640, 3), np.uint8)  # letterboxed into 640×640: scale 1, 80 px bars top and bottom


def yolo_model(raw: np.ndarray, *, size: int | str = 640, names: str | None = None) -> bytes:
    """A model whose input is `images` [1, 3, size, size] and whose output is `raw`, whatever the image.

    The output goes through Add(raw, 0 × ReduceMax(images)) so that the graph really consumes its input.
    """
    const = numpy_helper.from_array(raw.astype(np.float32), "raw")
    zero = numpy_helper.from_array(np.zeros((), np.float32), "zero")
    nodes = [
        helper.make_node("ReduceMax", ["images"], ["peak"], keepdims=0),
        helper.make_node("Mul", ["peak", "zero"], ["nothing"]),
        helper.make_node("Add", ["raw", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(raw.shape))],
        initializer=[const, zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if names is not None:
        helper.set_model_props(model, {"names": names})
    onnx.checker.check_model(model)
    return model.SerializeToString()


PADDING = 60  # real heads emit thousands of candidates, nearly all empty; the tests add empty ones too


def _padded(rows: list[list[float]]) -> np.ndarray:
    table = np.array(rows, np.float32)
    empty = np.zeros((PADDING, table.shape[1]), np.float32)
    empty[:, :4] = (320, 320, 10, 10)
    return np.concatenate([table, empty])


def v8(*candidates: tuple[float, float, float, float, list[float]]) -> np.ndarray:
    """[1, 4 + C, N]: rows cx, cy, w, h then one score per class, one column per candidate."""
    return _padded([[cx, cy, w, h, *scores] for cx, cy, w, h, scores in candidates]).T[None]


def v5(*candidates: tuple[float, float, float, float, float, list[float]]) -> np.ndarray:
    """[1, N, 5 + C]: cx, cy, w, h, objectness, class scores per candidate."""
    return _padded([[cx, cy, w, h, obj, *scores] for cx, cy, w, h, obj, scores in candidates])[None]


def frac(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, float, float]:
    """Expected box in frame fractions from frame pixels."""
    return (x1 / 640, y1 / 480, (x2 - x1) / 640, (y2 - y1) / 480)


def test_v8_output_is_unletterboxed_thresholded_and_suppressed() -> None:
    raw = v8(
        (320, 320, 100, 200, [0.9, 0.1]),  # person: frame box x 270..370, y 220-80=140..340
        (322, 318, 100, 200, [0.8, 0.0]),  # same person, weaker: suppressed by NMS
        (100, 500, 40, 40, [0.05, 0.6]),  # car near the bottom: y 480-80-20=400..440
        (500, 200, 50, 50, [0.1, 0.2]),  # below the threshold
    )
    detector = OnnxDetector(yolo_model(raw), class_names=["person", "car"], min_score=0.25)
    assert (detector.width, detector.height) == (640, 640)
    boxes = detector.detect([FRAME])[0]
    assert [(b.label, round(b.score, 2)) for b in boxes] == [("person", 0.9), ("car", 0.6)]
    assert np.allclose(boxes[0].xywh, frac(270, 140, 370, 340), atol=1e-4)
    assert np.allclose(boxes[1].xywh, frac(80, 400, 120, 440), atol=1e-4)


def test_v5_output_multiplies_objectness_by_class_score() -> None:
    raw = v5(
        (320, 320, 64, 64, 0.9, [0.1, 0.9]),  # 0.81 car
        (100, 300, 64, 64, 0.2, [0.9, 0.0]),  # 0.18 person: dropped at 0.25
        (500, 300, 64, 64, 0.8, [0.5, 0.1]),  # 0.40 person
    )
    boxes = OnnxDetector(yolo_model(raw), class_names=["person", "car"]).detect([FRAME])[0]
    assert [(b.label, round(b.score, 2)) for b in boxes] == [("car", 0.81), ("person", 0.4)]
    assert np.allclose(boxes[1].xywh, frac(468, 188, 532, 252), atol=1e-4)


def test_nms_is_per_class_and_classes_can_be_filtered() -> None:
    raw = v8((320, 320, 100, 100, [0.9, 0.0]), (320, 320, 100, 100, [0.0, 0.7]))
    model = yolo_model(raw)
    both = OnnxDetector(model, class_names=["person", "car"]).detect([FRAME])[0]
    assert sorted(b.label for b in both) == ["car", "person"]
    only_people = OnnxDetector(model, class_names=["person", "car"], classes=["person"]).detect([FRAME])[0]
    assert [b.label for b in only_people] == ["person"]


def test_class_names_come_from_ultralytics_metadata() -> None:
    raw = v8((320, 320, 100, 100, [0.0, 0.0, 0.8]))
    detector = OnnxDetector(yolo_model(raw, names="{0: 'person', 1: 'bicycle', 2: 'car'}"))
    assert detector.class_names == ["person", "bicycle", "car"]
    assert detector.detect([FRAME])[0][0].label == "car"
    unnamed = OnnxDetector(yolo_model(raw))
    assert unnamed.detect([FRAME])[0][0].label == "2"


def test_dynamic_input_uses_the_given_size_and_letterbox_maps_back() -> None:
    # 320×320 input: the 640×480 frame is scaled by ½ to 320×240 with 40 px bars top and bottom.
    raw = v8((160, 160, 50, 100, [0.9]))
    detector = OnnxDetector(yolo_model(raw, size="n"), input_size=(320, 320))
    assert (detector.width, detector.height) == (320, 320)
    box = detector.detect([FRAME])[0][0]
    assert np.allclose(box.xywh, frac(270, 140, 370, 340), atol=1e-4)


def test_an_explicit_layout_decodes_a_head_with_few_candidates() -> None:
    # Three candidates, six attributes: "auto" would take the 3 as the attribute axis; the operator says v8.
    raw = np.array([[320, 320, 100, 200, 0.9, 0.0], [100, 300, 20, 20, 0.0, 0.0], [9, 9, 9, 9, 0, 0]], np.float32)
    detector = OnnxDetector(yolo_model(raw.T[None]), class_names=["person", "car"], layout="v8")
    boxes = detector.detect([FRAME])[0]
    assert [(b.label, round(b.score, 2)) for b in boxes] == [("person", 0.9)]
    assert np.allclose(boxes[0].xywh, frac(270, 140, 370, 340), atol=1e-4)


def test_letterbox_pads_with_grey_and_keeps_aspect() -> None:
    image, scale, pad_x, pad_y = letterbox(np.full((480, 640, 3), 7, np.uint8), 640, 640)
    assert image.shape == (640, 640, 3) and scale == 1.0 and (pad_x, pad_y) == (0.0, 80.0)
    assert image[0, 0, 0] == 114 and image[80, 0, 0] == 7 and image[560, 0, 0] == 114


def test_boxes_are_clipped_to_the_frame() -> None:
    raw = v8((20, 100, 100, 100, [0.9]))  # x from -30: clipped to 0
    box = OnnxDetector(yolo_model(raw)).detect([FRAME])[0][0]
    assert box.x == 0.0 and np.isclose(box.w, 70 / 640)


def test_runs_on_cuda_when_available_else_cpu_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):  # a fresh cache: the CPU warning is given once per cache (process)
        detector = OnnxDetector(yolo_model(v8((320, 320, 10, 10, [0.9]))), cache=SessionCache())
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert detector.providers[0] == "CUDAExecutionProvider"
    else:
        assert detector.providers == ["CPUExecutionProvider"]
        assert "runs on CPU" in caplog.text or "run on CPU" in caplog.text
