"""Person detectors for the dataset's person filter (the thesis keeps film frames with 1 to 5 persons).

Two back ends, both from local weight files (nothing downloads):
- the YOLOv5n ONNX export (`yolov5n.onnx`: input 1x3x640x640 RGB 0-1 letterboxed with gray 114, output
  1x25200x85 = cx, cy, w, h, objectness, 80 COCO class scores; class 0 = person), run by onnxruntime
  (or OpenCV's DNN module when onnxruntime is missing);
- an ultralytics `.pt` model (yolov8n.pt, yolo11n.pt...), used only when the ultralytics package is installed.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# Where the build looks when no --detector is given (relative to the repository root, then the cwd).
DEFAULT_WEIGHTS = ("../shared/data/weights/yolov5n.onnx", "weights/yolov5n.onnx")
HOW_TO_GET = (
    "put the YOLOv5n ONNX export at ../shared/data/weights/yolov5n.onnx (or pass --detector PATH to it or to "
    "an ultralytics .pt file), or build without the person filter with --no-person-filter"
)


class DetectorError(RuntimeError):
    pass


def _letterbox(rgb: np.ndarray, size: int = 640) -> tuple[np.ndarray, float, tuple[int, int]]:
    h, w = rgb.shape[:2]
    scale = min(size / h, size / w)
    nh, nw = round(h * scale), round(w * scale)
    canvas = np.full((size, size, 3), 114, dtype=np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    canvas[top : top + nh, left : left + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, scale, (left, top)


class Yolov5Onnx:
    """Counts persons with the YOLOv5n ONNX export: objectness x person score > conf, NMS at `iou`."""

    def __init__(self, path: str | Path, conf: float = 0.4, iou: float = 0.45):
        self.path, self.conf, self.iou = Path(path), conf, iou
        self.name = f"yolov5n-onnx ({self.path.name})"
        try:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1  # the machine is shared; one thread per detector is plenty
            self._sess = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
            self._input = self._sess.get_inputs()[0].name
            self._net = None
        except ImportError:
            self._sess = None
            self._net = cv2.dnn.readNetFromONNX(str(self.path))
        except Exception as exc:
            raise DetectorError(f"{self.path}: not a readable ONNX detector ({exc})") from None

    def _raw(self, rgb: np.ndarray) -> np.ndarray:
        img, _, _ = _letterbox(rgb)
        blob = img.transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        if self._sess is not None:
            return self._sess.run(None, {self._input: blob})[0][0]
        self._net.setInput(blob)
        return self._net.forward()[0]

    def count_persons(self, rgb: np.ndarray) -> int:
        out = self._raw(rgb)
        score = out[:, 4] * out[:, 5]
        keep = score > self.conf
        if not keep.any():
            return 0
        boxes = out[keep, :4]
        xywh = np.stack(
            [boxes[:, 0] - boxes[:, 2] / 2, boxes[:, 1] - boxes[:, 3] / 2, boxes[:, 2], boxes[:, 3]], 1
        )
        idx = cv2.dnn.NMSBoxes(xywh.tolist(), score[keep].tolist(), self.conf, self.iou)
        return len(np.asarray(idx).reshape(-1))


class UltralyticsPt:
    """An ultralytics-format `.pt` detector (needs the ultralytics package)."""

    def __init__(self, path: str | Path, conf: float = 0.4, iou: float = 0.45):
        try:
            from ultralytics import YOLO
        except ImportError:
            raise DetectorError(
                f"{path}: ultralytics .pt weights need the ultralytics package (pip install ultralytics), "
                "or use the YOLOv5n ONNX export"
            ) from None
        self.path, self.conf, self.iou = Path(path), conf, iou
        self.name = f"ultralytics ({self.path.name})"
        self._model = YOLO(str(self.path))

    def count_persons(self, rgb: np.ndarray) -> int:
        res = self._model.predict(rgb, conf=self.conf, iou=self.iou, classes=[0], verbose=False)[0]
        return len(res.boxes)


def find_weights(repo_root: Path | None = None) -> Path | None:
    roots = [repo_root or Path(__file__).resolve().parents[1], Path.cwd()]
    for root in roots:
        for rel in DEFAULT_WEIGHTS:
            if (root / rel).is_file():
                return (root / rel).resolve()
    return None


def load_detector(path: str | Path | None = None, conf: float = 0.4, iou: float = 0.45):
    """A person detector from `path` (.onnx or ultralytics .pt), or the default ONNX file; DetectorError if none."""
    path = Path(path) if path else find_weights()
    if path is None or not path.is_file():
        where = f"{path} does not exist" if path else "no person-detector weights found"
        raise DetectorError(f"{where}: {HOW_TO_GET}")
    if path.suffix == ".onnx":
        return Yolov5Onnx(path, conf, iou)
    if path.suffix == ".pt":
        return UltralyticsPt(path, conf, iou)
    raise DetectorError(f"{path}: unknown detector format (expected .onnx or an ultralytics .pt)")
