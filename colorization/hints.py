"""Colour hints: points and strokes where staff say what colour a thing was, and how the network sees them.

A hints file is JSON::

    {"points": [{"x": 0.42, "y": 0.31, "color": "#2f5a8a"}, ...],
     "strokes": [{"points": [[0.1, 0.2], [0.3, 0.25], ...], "color": "#8a2f2f", "closed": false}, ...]}

with x and y as fractions of the picture's width and height (0 to 1, from the top left) and the colour as sRGB
hex. A point is one spot; a stroke is an open polyline drawn over a thing or, `"closed": true`, a polygon
outlining a region (filled). Each may say how far it spreads (``"reach"``: `REACH`), and the document may ask for a
colour strength (``"strength": 1.2``, `check_strength`) applied to the network's colour, not to the hints'. Only
the colour's chroma (Lab a and b) is used: the photograph keeps its own
lightness. For a film, a point or stroke may name the frame it was placed on (``"frame": 120``, default 0, a
keyframe): `carry` follows it through the rest of that shot with optical flow and drops it at the next scene cut.
A film's hints may also come as one document per keyframe (`parse_keyframes`: ``{"keyframes": {"120": {...}}}``);
with "keyframes" smoothing (colorization.stages.keyframes) a hinted frame is a keyframe whose colour is carried
through the shot.
A model that takes hints (`UNetConfig.hints`) gets three more input channels: each hint's a and b (normalized,
ab / 128) over a small square around its point (or along its stroke, or over its polygon) and a mask that is 1
there (Zhang et al. 2017, user-guided colorization). After the network, `follow` spreads what each hint still
asks for over the pixels that belong with it (near it, of like lightness and like predicted colour), so a hint
colours its region, not a disc.

Torch-free (numpy only; OpenCV and SciPy are imported inside the functions that draw and track): the command
line, the workers and the portal's form check share it.
"""

from __future__ import annotations

import dataclasses
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
MAX_STROKES = 50
MAX_VERTICES = 500  # per stroke
# How far a hint reaches in the picture, a multiple of `Following.reach`'s spatial scale (0.1 of the diagonal):
# "small" for a detail (a tie, a sign), "region" for a large area (a sky, a field); lightness and colour edges
# stop every reach alike.
REACH = {"small": 0.4, "medium": 1.0, "region": 3.0}
DEFAULT_REACH = "medium"  # what every hint had before reaches were given
# Colour strength: a factor on the chroma of the network's own colour (not on what hints ask), from muted to vivid.
STRENGTH_RANGE = (0.5, 1.5)
SIDECAR_SUFFIX = ".hints.json"  # `<stem>.hints.json` beside a photo holds its hints
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_EXAMPLE = (
    '{"points": [{"x": 0.4, "y": 0.3, "color": "#2f5a8a"}, ...], '
    '"strokes": [{"points": [[0.1, 0.2], [0.3, 0.2]], "color": "#8a2f2f", "closed": false}, ...]}'
)


class HintError(ValueError):
    """A hints file or list that cannot be used; the message names the file and the point or stroke."""


def _lab_ab(color: str) -> tuple[float, float]:
    rgb = np.array([[[int(color[i : i + 2], 16) for i in (1, 3, 5)]]], dtype=np.float32) / 255.0
    lab = rgb_to_lab(rgb)[0, 0]
    return float(lab[1]), float(lab[2])


def _pixel(x: float, y: float, height: int, width: int) -> tuple[int, int]:
    """A fraction of the picture -> the (row, column) of the network pixel it falls in."""
    return min(height - 1, int(y * height)), min(width - 1, int(x * width))


@dataclass(frozen=True)
class Hint:
    """A point: one spot of the picture whose colour staff know."""

    x: float  # 0..1 of the width, from the left
    y: float  # 0..1 of the height, from the top
    color: str  # "#rrggbb" as given (normalized to lower case, 6 digits)
    frame: int = 0  # films: the frame (keyframe) the point was placed on
    reach: str = DEFAULT_REACH  # a key of REACH: how far in the picture the colour spreads

    @property
    def ab(self) -> tuple[float, float]:
        """The colour's Lab a and b (its lightness is not used)."""
        return _lab_ab(self.color)

    @property
    def vertices(self) -> tuple[tuple[float, float], ...]:
        return ((self.x, self.y),)

    def cover(self, height: int, width: int, radius: int = HINT_RADIUS) -> np.ndarray:
        """Where the hint is drawn on a height x width grid: a (2 radius + 1)^2 square around the point."""
        cy, cx = _pixel(self.x, self.y, height, width)
        mask = np.zeros((height, width), dtype=bool)
        mask[max(0, cy - radius) : cy + radius + 1, max(0, cx - radius) : cx + radius + 1] = True
        return mask

    def to_dict(self) -> dict:
        return {
            "x": self.x,
            "y": self.y,
            "color": self.color,
            **({"frame": self.frame} if self.frame else {}),
            **({"reach": self.reach} if self.reach != DEFAULT_REACH else {}),
        }


@dataclass(frozen=True)
class Stroke:
    """A stroke: an open polyline drawn over a thing, or (closed) a polygon outlining a region, all of it the
    one colour. Its pixels are hint pixels: `render` draws them and `follow` gives them the colour in full."""

    points: tuple[tuple[float, float], ...]  # vertices (x, y), fractions as for a point
    color: str
    closed: bool = False
    frame: int = 0
    reach: str = DEFAULT_REACH

    @property
    def ab(self) -> tuple[float, float]:
        return _lab_ab(self.color)

    @property
    def vertices(self) -> tuple[tuple[float, float], ...]:
        return self.points

    def core(self, height: int, width: int) -> np.ndarray:
        """The stroke's own pixels on a height x width grid: the polyline one pixel thin, or the polygon filled."""
        import cv2

        xy = np.array([_pixel(x, y, height, width)[::-1] for x, y in self.points], dtype=np.int32)
        canvas = np.zeros((height, width), dtype=np.uint8)
        if self.closed:
            cv2.fillPoly(canvas, [xy], 1)
        cv2.polylines(canvas, [xy], self.closed, 1)
        return canvas.astype(bool)

    def cover(self, height: int, width: int, radius: int = HINT_RADIUS) -> np.ndarray:
        """Where the stroke is drawn: the polyline as thick as a point's square (every pixel within `radius`
        of it, across or along), or the polygon filled."""
        core = self.core(height, width)
        if self.closed:
            return core
        import cv2

        kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
        return cv2.dilate(core.astype(np.uint8), kernel).astype(bool)

    def to_dict(self) -> dict:
        return {
            "points": [[x, y] for x, y in self.points],
            "color": self.color,
            "closed": self.closed,
            **({"frame": self.frame} if self.frame else {}),
            **({"reach": self.reach} if self.reach != DEFAULT_REACH else {}),
        }


Mark = Hint | Stroke  # what staff place: a point or a stroke


@dataclass(frozen=True)
class Hints:
    """A hints document: the points and the strokes staff placed, and optionally the colour strength. Iterating
    gives the points, then the strokes (the marks `render`, `follow` and `carry` take); len counts them."""

    points: tuple[Hint, ...] = ()
    strokes: tuple[Stroke, ...] = ()
    strength: float | None = None  # the colour strength asked for with these hints (check_strength)

    def __iter__(self) -> Iterator[Mark]:
        yield from self.points
        yield from self.strokes

    def __len__(self) -> int:
        return len(self.points) + len(self.strokes)

    @classmethod
    def of(cls, marks: Iterable[Mark] | None) -> Hints:
        """A Hints from a Hints, a list of points and strokes, or None (no hints)."""
        if isinstance(marks, Hints):
            return marks
        marks = list(marks or [])
        return cls(
            tuple(m for m in marks if isinstance(m, Hint)), tuple(m for m in marks if isinstance(m, Stroke))
        )

    def to_dict(self) -> dict:
        return {
            "points": [p.to_dict() for p in self.points],
            **({"strokes": [s.to_dict() for s in self.strokes]} if self.strokes else {}),
            **({"strength": self.strength} if self.strength is not None else {}),
        }


def _color(value: object, where: str) -> str:
    if not isinstance(value, str) or not _HEX.match(value.strip()):
        raise HintError(f"{where}: colour {value!r} is not an sRGB hex colour such as '#2f5a8a'")
    digits = value.strip().lstrip("#").lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def _fraction(value: object, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HintError(
            f"{where}: {key} must be a number from 0 to 1 (a fraction of the picture), not {value!r}"
        )
    if not 0.0 <= float(value) <= 1.0:
        raise HintError(f"{where}: {key} = {value} lies outside the picture (it must be from 0 to 1)")
    return float(value)


def _frame(item: dict, where: str) -> int:
    frame = item.get("frame", 0)
    if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
        raise HintError(f"{where}: frame must be a frame number (0 or more), not {frame!r}")
    return frame


def _reach(item: dict, where: str) -> str:
    reach = item.get("reach", DEFAULT_REACH)
    if not isinstance(reach, str) or reach not in REACH:
        raise HintError(f"{where}: reach {reach!r} must be one of {', '.join(map(repr, REACH))}")
    return reach


def _point(item: object, where: str) -> Hint:
    if not isinstance(item, dict):
        raise HintError(f"{where}: expected an object with x, y and color, not {item!r}")
    frame = _frame(item, where)
    x, y = _fraction(item.get("x"), "x", where), _fraction(item.get("y"), "y", where)
    return Hint(x, y, _color(item.get("color"), where), frame, _reach(item, where))


def _stroke(item: object, where: str) -> Stroke:
    if not isinstance(item, dict):
        raise HintError(f"{where}: expected an object with points, color and closed, not {item!r}")
    closed = item.get("closed", False)
    if not isinstance(closed, bool):
        raise HintError(
            f"{where}: closed must be true (an outlined region) or false (a line), not {closed!r}"
        )
    vertices = item.get("points")
    least = 3 if closed else 2
    if not isinstance(vertices, list) or not least <= len(vertices) <= MAX_VERTICES:
        count = f"{len(vertices)} vertices" if isinstance(vertices, list) else f"points {vertices!r}"
        shape = "a closed stroke (a region)" if closed else "a stroke"
        raise HintError(
            f"{where}: {count}; {shape} takes a list of {least} to {MAX_VERTICES} [x, y] vertices"
        )
    points = []
    for k, vertex in enumerate(vertices, 1):
        at = f"{where}, vertex {k}"
        if not isinstance(vertex, list | tuple) or len(vertex) != 2:
            raise HintError(f"{at}: expected [x, y], not {vertex!r}")
        points.append((_fraction(vertex[0], "x", at), _fraction(vertex[1], "y", at)))
    color, frame, reach = _color(item.get("color"), where), _frame(item, where), _reach(item, where)
    return Stroke(tuple(points), color, closed, frame, reach)


def check_strength(value: object, where: str = "strength") -> float:
    """A colour strength (a number in STRENGTH_RANGE; 1 = the network's colour as it is) or HintError."""
    low, high = STRENGTH_RANGE
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= float(value) <= high:
        raise HintError(
            f"{where}: {value!r} must be a number from {low} (muted) to {high} (vivid); 1 keeps the model's "
            "colour"
        )
    return float(value)


def _items(data: dict, key: str, most: int, source: str) -> list:
    items = data.get(key, [])
    if not isinstance(items, list):
        raise HintError(f"{source}: {key} must be a list, not {items!r}")
    if len(items) > most:
        raise HintError(f"{source}: {len(items)} {key}; at most {most} are taken")
    return items


def parse(data: object, source: str = "hints") -> Hints:
    """A decoded hints document -> Hints; HintError names `source` and the point or stroke when anything is
    wrong. The portal checks what its editor sends with this rule too. A film's keyframe hints document
    (`parse_keyframes`) is taken as well."""
    if isinstance(data, dict) and "keyframes" in data:
        return parse_keyframes(data, source)
    keys = {"points", "strokes", "strength"}
    if not isinstance(data, dict) or not (keys & set(data)):
        raise HintError(f"{source}: expected {_EXAMPLE}")
    unknown = sorted(set(data) - keys)
    if unknown:
        raise HintError(
            f"{source}: unknown key(s) {unknown}; a hints file holds points, strokes and strength"
        )
    points = _items(data, "points", MAX_POINTS, source)
    strokes = _items(data, "strokes", MAX_STROKES, source)
    return Hints(
        tuple(_point(p, f"{source}, point {i}") for i, p in enumerate(points, 1)),
        tuple(_stroke(s, f"{source}, stroke {i}") for i, s in enumerate(strokes, 1)),
        None if data.get("strength") is None else check_strength(data["strength"], f"{source}, strength"),
    )


def parse_keyframes(data: object, source: str = "hints") -> Hints:
    """A film's keyframe hints: ``{"keyframes": {"0": HINTS, "120": HINTS, ...}, "strength": 1.2}``, each HINTS a
    photo's hints document for that frame (its points and strokes; no strength of its own). Every mark gets its
    keyframe as its "frame"; one that names another frame is refused."""
    if not isinstance(data, dict) or not isinstance(data.get("keyframes"), dict):
        raise HintError(f'{source}: expected {{"keyframes": {{"0": {_EXAMPLE}, ...}}}}')
    unknown = sorted(set(data) - {"keyframes", "strength"})
    if unknown:
        raise HintError(
            f"{source}: unknown key(s) {unknown}; a keyframe hints file holds keyframes and strength"
        )
    points: list[Hint] = []
    strokes: list[Stroke] = []
    for key, doc in data["keyframes"].items():
        where = f"{source}, keyframe {key!r}"
        if not str(key).isdigit():
            raise HintError(f"{where}: a keyframe is a frame number (0 or more)")
        if isinstance(doc, dict) and "keyframes" in doc:
            raise HintError(f"{where}: keyframes do not nest")
        if isinstance(doc, dict) and "strength" in doc:
            raise HintError(f"{where}: strength is given once for the film, beside keyframes")
        frame, given = int(key), parse(doc, where)
        for mark in given:
            if mark.frame not in (0, frame):
                raise HintError(f"{where}: a hint says frame {mark.frame}; it belongs to keyframe {frame}")
        points += [dataclasses.replace(p, frame=frame) for p in given.points]
        strokes += [dataclasses.replace(s, frame=frame) for s in given.strokes]
    if len(points) > MAX_POINTS * 10 or len(strokes) > MAX_STROKES * 10:
        raise HintError(f"{source}: {len(points)} points and {len(strokes)} strokes; too many for one film")
    strength = data.get("strength")
    return Hints(
        tuple(points),
        tuple(strokes),
        None if strength is None else check_strength(strength, f"{source}, strength"),
    )


def load(path: str | Path) -> Hints:
    """Read and check a hints file (HintError names the file and the point or stroke)."""
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


def dumps(hints: Iterable[Mark]) -> str:
    """Hints (or a list of points and strokes) -> the hints file's JSON (no "strokes" key when there are none)."""
    return json.dumps(Hints.of(hints).to_dict())


def render(hints: Iterable[Mark], height: int, width: int, radius: int = HINT_RADIUS) -> np.ndarray:
    """Hints -> the network's hint channels (3, height, width) float32: a and b / 128 and a mask, over a
    (2 radius + 1)^2 square around each point, along each open stroke (2 radius + 1 pixels thick) and over each
    closed stroke's polygon; a later hint overwrites an earlier one where they meet."""
    out = np.zeros((3, height, width), dtype=np.float32)
    for hint in hints:
        a, b = hint.ab
        where = hint.cover(height, width, radius)
        out[0, where], out[1, where], out[2, where] = a / AB_SCALE, b / AB_SCALE, 1.0
    return out


@dataclass(frozen=True)
class Following:
    """How `follow` spreads a hint (chosen on 150 validation photos with 10 hints each, never on the evaluation
    sets; MODEL_CARD.md): a pixel's distance to a hint joins its distance in the picture (a fraction of the
    diagonal), in lightness (per 100 L) and in predicted colour (per 100 ab units), each with its weight."""

    reach: float = 0.1  # Gaussian width of the joint distance
    lightness: float = 1.0
    colour: float = 0.5
    # Texture: the spread of lightness over TEXTURE_WINDOW network pixels (per 100 L). A patterned robe and the
    # smooth wall behind it share a mean lightness; without this term two hints on the robe of a historical photo
    # coloured the wall and the floor around it. Chosen on the historical set, then confirmed on 120 validation
    # photographs: each step halves the worst leak for a little gain and correlation (MODEL_CARD.md).
    texture: float = 8.0
    # Weight of "no correction" where no hint reaches: `few` / (number of hints)^3, at least `prior`. One or two
    # hints say little about the rest of the picture (spread wide, one hint lowered the correlation), ten say a lot.
    prior: float = 1e-3
    few: float = 1.0
    # What is followed where the hints reach: this share of the network's answer with the hints plus the rest of
    # its answer without them. The answer with hints alone paints a disc around each point; half of each
    # followed scored best. Where "no correction" outweighs the hints, the answer without hints is kept.
    hinted: float = 0.5


FOLLOWING = Following()
TEXTURE_WINDOW = (
    5  # network pixels: the side of the square over which `Following.texture` measures the spread
)


def _texture(lightness: np.ndarray, size: int = TEXTURE_WINDOW) -> np.ndarray:
    """The standard deviation of the lightness over the size x size square around each pixel."""
    import cv2

    lightness = lightness.astype(np.float32)
    mean = cv2.blur(lightness, (size, size))
    return np.sqrt(np.maximum(cv2.blur(lightness * lightness, (size, size)) - mean * mean, 0.0))


def _nearest(
    hint: Mark, lightness: np.ndarray, ab: np.ndarray, texture: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray | float, np.ndarray, np.ndarray | float]:
    """For every pixel: its squared distance in pixels to the hint, and the lightness, predicted ab and texture
    it is compared with there. A point is compared with its square's mean lightness and texture and its own
    pixel's ab; a stroke with those of the stroke pixel nearest to each pixel (so a long stroke or a region
    crossing several tones spreads each into its own surroundings)."""
    h, w = lightness.shape
    if isinstance(hint, Hint):
        cy, cx = _pixel(hint.x, hint.y, h, w)
        ys, xs = np.mgrid[:h, :w].astype(np.float32)
        square = hint.cover(h, w, radius)
        spatial2 = (ys - cy) ** 2 + (xs - cx) ** 2
        return spatial2, float(lightness[square].mean()), ab[cy, cx], float(texture[square].mean())
    from scipy.ndimage import distance_transform_edt

    distance, (iy, ix) = distance_transform_edt(~hint.core(h, w), return_indices=True)
    return (distance**2).astype(np.float32), lightness[iy, ix], ab[iy, ix], texture[iy, ix]


def follow(
    ab: np.ndarray,
    lightness: np.ndarray,
    hints: Iterable[Mark],
    radius: int = HINT_RADIUS,
    how: Following = FOLLOWING,
    unhinted: np.ndarray | None = None,
    strength: float = 1.0,
) -> np.ndarray:
    """The network's ab (h, w, 2, Lab units) corrected so that the picture follows its hints: at each hint the
    correction is what the hint asks beyond the prediction there; elsewhere it is the hints' corrections averaged
    with weights that fall with distance in the picture, in lightness (`lightness`: L (h, w) in [0, 100]), in
    texture (`Following.texture`) and in predicted colour, so the colour spreads over the region a hint belongs to and stops at its edges (how far in
    the picture: each hint's `reach`, a multiple of `how.reach` for its distance in the picture). A mark's
    own pixels (a point's square, a stroke's line or region: `cover`) take its colour in full, and "no
    correction" gives way as much as a pixel is like them, so a hint's colour comes out as given, its hue and
    chroma at the pixel's own lightness (`merge_luma` lowers only the chroma sRGB cannot show there). With `unhinted` (the
    network's ab for the same picture without hints), the prediction followed is the mix of the two that
    `how.hinted` says where the hints reach, and the answer without hints where they do not (where "no
    correction" outweighs them): the network spreads even one hint over the whole picture, and the hints stay
    where staff put them. `strength` scales the chroma of the network's own colour by the share of "no
    correction", so it never changes what the hints ask for: pixels the hints hold keep their colour."""
    hints = list(hints)
    if not hints:
        return ab if strength == 1 else (ab * strength).astype(np.float32)
    plain = ab if unhinted is None else unhinted
    answered = ab  # the network's answer to the hints: a disc around each, edges or not
    ab = how.hinted * ab + (1.0 - how.hinted) * plain
    h, w = lightness.shape
    diagonal = float(np.hypot(h, w))
    total = np.zeros((h, w, 2), dtype=np.float32)
    weights = np.zeros((h, w), dtype=np.float32)
    prior = np.full((h, w), max(how.prior, how.few / len(hints) ** 3), dtype=np.float32)
    strongest = np.zeros((h, w), dtype=np.float32)
    texture = _texture(lightness)
    for hint in hints:
        cover = hint.cover(h, w, radius)
        asked = np.asarray(hint.ab, dtype=np.float32) - ab[cover].mean(0)
        spatial2, lightness_there, ab_there, texture_there = _nearest(hint, lightness, ab, texture, radius)
        distance2 = (
            spatial2 / (diagonal * REACH[hint.reach]) ** 2
            + (how.lightness * (lightness - lightness_there) / 100.0) ** 2
            + (how.colour / 100.0) ** 2 * ((ab - ab_there) ** 2).sum(-1)
            + (how.texture * (texture - texture_there) / 100.0) ** 2
        )
        weight = np.exp(-0.5 * distance2 / how.reach**2)
        weight[cover], prior[cover] = 1.0, 0.0  # a mark's own pixels take its colour in full
        strongest = np.maximum(strongest, weight)
        weights += weight
        total += weight[..., None] * asked
    # "No correction" gives way where a hint holds: the pixels like a hint's own (weight near 1) take its colour
    # as it was given, hue and chroma, whatever the number of hints (before, one hint gave half its chroma at its
    # own point, mixed with the network's hue), and there is no step at the edge of the hint's square.
    prior *= 1.0 - strongest
    weights += prior
    # The network's own answer to the hints counts as far as a hint holds a pixel (its disc crossed the edge of a
    # patterned robe onto the floor); on a hint's own pixels (strongest = 1) nothing changes, so `asked` stands.
    ab = plain + how.hinted * strongest[..., None] * (answered - plain)
    unreached = (prior / weights)[..., None]  # the share of "no correction"
    followed = ab + unreached * (plain - ab) + total / weights[..., None]
    return (followed + (strength - 1.0) * unreached * plain).astype(np.float32)


def _box_mean(values: np.ndarray, size: int) -> np.ndarray:
    """The mean over the `size` x `size` square around each pixel (edges: the part inside the picture)."""
    r = size // 2
    h, w = values.shape[:2]
    padded = np.zeros((h + 1, w + 1, *values.shape[2:]), np.float64)
    padded[1:, 1:] = values.cumsum(0).cumsum(1)
    y0, y1 = np.clip(np.arange(h) - r, 0, h), np.clip(np.arange(h) + r + 1, 0, h)
    x0, x1 = np.clip(np.arange(w) - r, 0, w), np.clip(np.arange(w) + r + 1, 0, w)
    total = padded[y1][:, x1] - padded[y0][:, x1] - padded[y1][:, x0] + padded[y0][:, x0]
    area = ((y1 - y0)[:, None] * (x1 - x0)[None, :]).astype(np.float64)
    return total / area.reshape(h, w, *([1] * (values.ndim - 2)))


def sample_from_truth(
    rgb: np.ndarray,
    count: int,
    seed: int,
    patch: int = 5,
    lightness: tuple[float, float] = (25.0, 75.0),
    stand_out: float | None = None,
    spacing: float = 0.1,
) -> list[Hint]:
    """`count` hints as a person who knew the true colour might give them: seeded random points among the
    pixels whose lightness lies in `lightness`, each the mean colour of the true `patch` x `patch` square
    around it (the evaluation's protocol). `rgb` is the true colour picture, (H, W, 3) float in [0, 1].

    With `stand_out` (Lab units), the points sit on things whose colour stands out, as staff place hints on
    what they know the colour of: only pixels whose own colour and patch colour (so not on an edge) lie more
    than `stand_out` ab units from the picture's median colour, at least `spacing` of the diagonal apart where
    the picture allows (fewer hints where it has fewer such pixels)."""
    lab = rgb_to_lab(rgb.astype(np.float32))
    h, w = lab.shape[:2]
    allowed = (lab[..., 0] >= lightness[0]) & (lab[..., 0] <= lightness[1])
    if stand_out is not None and allowed.any():
        median = np.median(lab[..., 1:][allowed], axis=0)
        for ab in (lab[..., 1:], _box_mean(lab[..., 1:], patch)):  # the pixel and its patch: not on an edge
            allowed &= np.linalg.norm(ab - median, axis=-1) > stand_out
    ys, xs = np.nonzero(allowed)
    if count <= 0 or len(ys) == 0:
        return []
    rng = np.random.default_rng(seed)
    if stand_out is None:
        picks = rng.choice(len(ys), size=min(count, len(ys)), replace=False)
    else:
        order, picks, gap = rng.permutation(len(ys)), [], spacing * float(np.hypot(h, w))
        for i in order[: 200 * count]:
            if all(np.hypot(ys[i] - ys[j], xs[i] - xs[j]) >= gap for j in picks):
                picks.append(i)
                if len(picks) == count:
                    break
        for i in order:  # too few far enough apart: the nearest ones too
            if len(picks) >= count:
                break
            if i not in picks:
                picks.append(i)
    r = patch // 2
    hints = []
    for i in picks:
        y, x = int(ys[i]), int(xs[i])
        square = rgb[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1].reshape(-1, 3).mean(0)
        color = "#" + "".join(f"{round(float(c) * 255):02x}" for c in np.clip(square, 0, 1))
        hints.append(Hint((x + 0.5) / w, (y + 0.5) / h, color))
    return hints


def _carried(hint: Mark, moved: np.ndarray, ok: np.ndarray) -> Mark | None:
    """A hint at its vertices' new places (fractions, (n, 2)), or None where the flow lost it: a point when its
    vertex is lost, a stroke when more than half of its vertices are (the others move with the median motion of
    those found)."""
    moved = np.clip(moved, 0.0, 1.0)
    if isinstance(hint, Hint):
        return dataclasses.replace(hint, x=float(moved[0, 0]), y=float(moved[0, 1])) if ok[0] else None
    if 2 * ok.sum() < len(ok):
        return None
    before = np.asarray(hint.points, dtype=np.float32)
    shift = np.median(moved[ok] - before[ok], axis=0)
    moved = np.where(ok[:, None], moved, np.clip(before + shift, 0.0, 1.0))
    return dataclasses.replace(hint, points=tuple((float(x), float(y)) for x, y in moved))


def carry(frames: Iterator[Frame], hints: Iterable[Mark]) -> Iterator[Frame]:
    """Film frames, each carrying in frame.info["hints"] the hints that hold there: a point or stroke starts on
    its frame (its keyframe), its vertices are followed frame by frame with pyramidal Lucas-Kanade optical flow,
    and it is dropped where the flow loses it (`_carried`) or at the next scene cut (the same cut test as
    temporal smoothing). A photo is frame 0."""
    import cv2

    from colorization.flow import gray_at
    from colorization.stages.temporal import SceneCuts

    hints = list(hints)
    cuts = SceneCuts()
    active: list[Mark] = []
    prev = None
    for frame in frames:
        h, w = frame.image.shape[:2]
        scale = min(1.0, 640 / max(h, w))  # track on a small copy: cheap, and plenty for points
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        gray = gray_at(frame.image, size)
        if cuts(gray):
            active = []
        elif active and prev is not None:
            scale_xy = np.array([size[1], size[0]], np.float32)
            vertices = np.array([v for hint in active for v in hint.vertices], np.float32) * scale_xy
            moved, found, _ = cv2.calcOpticalFlowPyrLK(
                prev, gray, vertices.reshape(-1, 1, 2), None, winSize=(21, 21), maxLevel=3
            )
            moved = moved.reshape(-1, 2)
            ok = found.ravel().astype(bool) & np.all((moved >= 0) & (moved < scale_xy), axis=1)
            starts = np.cumsum([0] + [len(hint.vertices) for hint in active])
            carried = (
                _carried(hint, moved[i:j] / scale_xy, ok[i:j])
                for hint, i, j in zip(active, starts[:-1], starts[1:], strict=True)
            )
            active = [hint for hint in carried if hint is not None]
        active += [p for p in hints if p.frame == frame.index]
        prev = gray
        if active:
            frame.info["hints"] = list(active)
        yield frame
