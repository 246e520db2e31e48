"""Colour hints: points where staff say what colour a thing was, and how the network sees them.

A hints file is JSON: ``{"points": [{"x": 0.42, "y": 0.31, "color": "#2f5a8a"}, ...]}`` with x and y as
fractions of the picture's width and height (0 to 1, from the top left) and the colour as sRGB hex. Only the
colour's chroma (Lab a and b) is used: the photograph keeps its own lightness. For a film, a point may name the
frame it was placed on (``"frame": 120``, default 0, a keyframe): `carry` follows it through the rest of that
shot with optical flow and drops it at the next scene cut. A model that takes hints
(`UNetConfig.hints`) gets three more input channels: each hint's a and b (normalized, ab / 128) over a small
square around its point and a mask that is 1 there (Zhang et al. 2017, user-guided colorization). After the
network, `follow` spreads what each hint still asks for over the pixels that belong with it (near it, of like
lightness and like predicted colour), so a hint colours its region, not a disc.

Torch-free (numpy only): the command line, the workers and the portal's form check share it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from colorization.color import AB_SCALE, rgb_to_lab
from colorization.frames import Frame

HINT_RADIUS = 2  # a hint covers a (2r+1)^2 square of network pixels (training draws 1, 3 or 5 px squares)
MAX_POINTS = 200
SIDECAR_SUFFIX = ".hints.json"  # `<stem>.hints.json` beside a photo holds its hints
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


class HintError(ValueError):
    """A hints file or list that cannot be used; the message names the file and the point."""


@dataclass(frozen=True)
class Hint:
    x: float  # 0..1 of the width, from the left
    y: float  # 0..1 of the height, from the top
    color: str  # "#rrggbb" as given (normalized to lower case, 6 digits)
    frame: int = 0  # films: the frame (keyframe) the point was placed on

    @property
    def ab(self) -> tuple[float, float]:
        """The colour's Lab a and b (its lightness is not used)."""
        rgb = np.array([[[int(self.color[i : i + 2], 16) for i in (1, 3, 5)]]], dtype=np.float32) / 255.0
        lab = rgb_to_lab(rgb)[0, 0]
        return float(lab[1]), float(lab[2])

    def to_dict(self) -> dict:
        return {
            "x": self.x,
            "y": self.y,
            "color": self.color,
            **({"frame": self.frame} if self.frame else {}),
        }


def _color(value: object, where: str) -> str:
    if not isinstance(value, str) or not _HEX.match(value.strip()):
        raise HintError(f"{where}: colour {value!r} is not an sRGB hex colour such as '#2f5a8a'")
    digits = value.strip().lstrip("#").lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def _fraction(point: dict, key: str, where: str) -> float:
    value = point.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HintError(
            f"{where}: {key} must be a number from 0 to 1 (a fraction of the picture), not {value!r}"
        )
    if not 0.0 <= float(value) <= 1.0:
        raise HintError(f"{where}: {key} = {value} lies outside the picture (it must be from 0 to 1)")
    return float(value)


def parse(data: object, source: str = "hints") -> list[Hint]:
    """A decoded hints document -> hints; HintError names `source` and the point when anything is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise HintError(f'{source}: expected {{"points": [{{"x": 0.4, "y": 0.3, "color": "#2f5a8a"}}, ...]}}')
    points = data["points"]
    if len(points) > MAX_POINTS:
        raise HintError(f"{source}: {len(points)} points; at most {MAX_POINTS} are taken")
    hints = []
    for i, point in enumerate(points, 1):
        where = f"{source}, point {i}"
        if not isinstance(point, dict):
            raise HintError(f"{where}: expected an object with x, y and color, not {point!r}")
        frame = point.get("frame", 0)
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise HintError(f"{where}: frame must be a frame number (0 or more), not {frame!r}")
        x, y = _fraction(point, "x", where), _fraction(point, "y", where)
        hints.append(Hint(x, y, _color(point.get("color"), where), frame))
    return hints


def load(path: str | Path) -> list[Hint]:
    """Read and check a hints file (HintError names the file and the point)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HintError(f"{path}: no such hints file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HintError(f"{path}: cannot read the hints file ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HintError(f"{path}: not JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from None
    return parse(data, str(path))


def sidecar(photo: str | Path) -> Path:
    """Where a photo's own hints file would be: `<stem>.hints.json` beside it."""
    photo = Path(photo)
    return photo.with_name(photo.stem + SIDECAR_SUFFIX)


def dumps(hints: Iterable[Hint]) -> str:
    return json.dumps({"points": [h.to_dict() for h in hints]})


def render(hints: Iterable[Hint], height: int, width: int, radius: int = HINT_RADIUS) -> np.ndarray:
    """Hints -> the network's hint channels (3, height, width) float32: a and b / 128 and a mask, over a
    (2 radius + 1)^2 square around each point; a later point overwrites an earlier one where they meet."""
    out = np.zeros((3, height, width), dtype=np.float32)
    for hint in hints:
        a, b = hint.ab
        cy = min(height - 1, int(hint.y * height))
        cx = min(width - 1, int(hint.x * width))
        ys = slice(max(0, cy - radius), cy + radius + 1)
        xs = slice(max(0, cx - radius), cx + radius + 1)
        out[0, ys, xs], out[1, ys, xs], out[2, ys, xs] = a / AB_SCALE, b / AB_SCALE, 1.0
    return out


@dataclass(frozen=True)
class Following:
    """How `follow` spreads a hint (chosen on 150 validation photos with 10 hints each, never on the evaluation
    sets; MODEL_CARD.md): a pixel's distance to a hint joins its distance in the picture (a fraction of the
    diagonal), in lightness (per 100 L) and in predicted colour (per 100 ab units), each with its weight."""

    reach: float = 0.1  # Gaussian width of the joint distance
    lightness: float = 1.0
    colour: float = 0.5
    # Weight of "no correction" where no hint reaches: `few` / (number of hints)^3, at least `prior`. One or two
    # hints say little about the rest of the picture (spread wide, one hint lowered the correlation), ten say a lot.
    prior: float = 1e-3
    few: float = 1.0
    # What is followed: this share of the network's answer with the hints plus the rest of its answer without
    # them. The answer with hints alone paints a disc around each point; half of each followed scored best.
    hinted: float = 0.5


FOLLOWING = Following()


def follow(
    ab: np.ndarray,
    lightness: np.ndarray,
    hints: Iterable[Hint],
    radius: int = HINT_RADIUS,
    how: Following = FOLLOWING,
    unhinted: np.ndarray | None = None,
) -> np.ndarray:
    """The network's ab (h, w, 2, Lab units) corrected so that the picture follows its hints: at each hint the
    correction is what the hint asks beyond the prediction there; elsewhere it is the hints' corrections averaged
    with weights that fall with distance in the picture, in lightness (`lightness`: L (h, w) in [0, 100]) and in
    predicted colour, so the colour spreads over the region a hint belongs to and stops at its edges. With
    `unhinted` (the network's ab for the same picture without hints), the prediction followed is the mix of the
    two that `how.hinted` says."""
    hints = list(hints)
    if not hints:
        return ab
    if unhinted is not None:
        ab = how.hinted * ab + (1.0 - how.hinted) * unhinted
    h, w = lightness.shape
    ys, xs = np.mgrid[:h, :w].astype(np.float32)
    diagonal = float(np.hypot(h, w))
    total = np.zeros((h, w, 2), dtype=np.float32)
    weights = np.full((h, w), max(how.prior, how.few / len(hints) ** 3), dtype=np.float32)
    for hint in hints:
        cy = min(h - 1, int(hint.y * h))
        cx = min(w - 1, int(hint.x * w))
        square = (slice(max(0, cy - radius), cy + radius + 1), slice(max(0, cx - radius), cx + radius + 1))
        asked = np.asarray(hint.ab, dtype=np.float32) - ab[square].reshape(-1, 2).mean(0)
        distance2 = (
            ((ys - cy) ** 2 + (xs - cx) ** 2) / diagonal**2
            + (how.lightness * (lightness - lightness[square].mean()) / 100.0) ** 2
            + (how.colour / 100.0) ** 2 * ((ab - ab[cy, cx]) ** 2).sum(-1)
        )
        weight = np.exp(-0.5 * distance2 / how.reach**2)
        weights += weight
        total += weight[..., None] * asked
    return (ab + total / weights[..., None]).astype(np.float32)


def sample_from_truth(
    rgb: np.ndarray, count: int, seed: int, patch: int = 5, lightness: tuple[float, float] = (25.0, 75.0)
) -> list[Hint]:
    """`count` hints as a person who knew the true colour might give them: seeded random points among the
    pixels whose lightness lies in `lightness`, each the mean colour of the true `patch` x `patch` square
    around it (the evaluation's protocol). `rgb` is the true colour picture, (H, W, 3) float in [0, 1]."""
    lab = rgb_to_lab(rgb.astype(np.float32))
    h, w = lab.shape[:2]
    ys, xs = np.nonzero((lab[..., 0] >= lightness[0]) & (lab[..., 0] <= lightness[1]))
    if count <= 0 or len(ys) == 0:
        return []
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(ys), size=min(count, len(ys)), replace=False)
    r = patch // 2
    hints = []
    for i in picks:
        y, x = int(ys[i]), int(xs[i])
        square = rgb[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].reshape(-1, 3).mean(0)
        color = "#" + "".join(f"{round(float(c) * 255):02x}" for c in np.clip(square, 0, 1))
        hints.append(Hint((x + 0.5) / w, (y + 0.5) / h, color))
    return hints


def carry(frames: Iterator[Frame], hints: list[Hint]) -> Iterator[Frame]:
    """Film frames, each carrying in frame.info["hints"] the hints that hold there: a point starts on its frame
    (its keyframe), is followed frame by frame with pyramidal Lucas-Kanade optical flow, and is dropped where
    the flow loses it or at the next scene cut (the same cut test as temporal smoothing). A photo is frame 0."""
    import cv2

    from colorization.flow import gray_at
    from colorization.stages.temporal import SceneCuts

    cuts = SceneCuts()
    active: list[Hint] = []
    prev = None
    for frame in frames:
        h, w = frame.image.shape[:2]
        scale = min(1.0, 640 / max(h, w))  # track on a small copy: cheap, and plenty for points
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        gray = gray_at(frame.image, size)
        if cuts(gray):
            active = []
        elif active and prev is not None:
            points = np.array([[p.x * size[1], p.y * size[0]] for p in active], np.float32).reshape(-1, 1, 2)
            moved, found, _ = cv2.calcOpticalFlowPyrLK(prev, gray, points, None, winSize=(21, 21), maxLevel=3)
            active = [
                Hint(
                    float(np.clip(q[0] / size[1], 0, 1)),
                    float(np.clip(q[1] / size[0], 0, 1)),
                    p.color,
                    p.frame,
                )
                for p, q, ok in zip(active, moved.reshape(-1, 2), found.ravel(), strict=True)
                if ok and 0 <= q[0] < size[1] and 0 <= q[1] < size[0]
            ]
        active += [p for p in hints if p.frame == frame.index]
        prev = gray
        if active:
            frame.info["hints"] = list(active)
        yield frame
