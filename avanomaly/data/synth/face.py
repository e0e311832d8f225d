"""Procedural talking-face renderer (numpy + cv2 drawing only).

A face is drawn in a canonical square canvas: shaded skin ellipse, hair, neck and shoulders, brows,
eyes with whites / irises / pupils / lids (blinks), a shaded nose with nostrils and lips whose opening
(``openness`` in [0, 1]) and width (``spread`` in [-1, 1], negative = rounded) are set per frame. The
static layer of each identity is rendered once; only eyes and mouth are redrawn per frame. A small
similarity transform (slow head motion) places the face over a per-identity background, then blur and
camera noise are applied. Everything is deterministic given the identity and the per-frame state.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: sub-pixel precision for cv2 drawing (coordinates are multiplied by 2**SHIFT)
SHIFT = 4
_SCALE = 1 << SHIFT
#: fraction of the frame height taken by the head ellipse's vertical semi-axis
HEAD_RY = 0.25
#: final optical blur (Gaussian sigma in pixels at 128 px frames; scaled with the frame size)
OPTICAL_BLUR_SIGMA = 0.6
#: per-pixel camera noise (std in 8-bit levels)
CAMERA_NOISE_STD = 2.0
#: maximum inner-mouth opening as a fraction of the head's vertical semi-axis
MAX_MOUTH_OPEN = 0.20
#: fraction of men drawn with a (light) beard
BEARD_PROBABILITY = 0.12
#: how many frames a blink lasts
BLINK_FRAMES = 4

SKIN_TONES = {  # RGB base skin colours per ethnicity label (several shades each)
    "African": [(92, 60, 42), (110, 72, 50), (125, 85, 60)],
    "Asian (East)": [(226, 190, 160), (214, 176, 142), (236, 200, 170)],
    "Asian (South)": [(170, 120, 88), (188, 136, 100), (155, 108, 78)],
    "Caucasian (American)": [(232, 190, 165), (222, 176, 150), (240, 204, 182)],
    "Caucasian (European)": [(236, 196, 172), (225, 182, 158), (244, 210, 190)],
}
HAIR_COLOURS = [(30, 22, 18), (60, 40, 25), (95, 65, 40), (20, 20, 22), (140, 110, 70), (110, 80, 55)]
IRIS_COLOURS = [(60, 40, 25), (80, 55, 30), (50, 80, 110), (70, 95, 60), (40, 30, 20)]
CLOTH_COLOURS = [(40, 60, 110), (120, 30, 40), (50, 50, 55), (200, 200, 205), (30, 90, 60), (150, 120, 80)]


@dataclass(frozen=True)
class FaceIdentity:
    """Appearance of one synthetic person (all sizes relative to the frame)."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    iris: tuple[int, int, int]
    cloth: tuple[int, int, int]
    lip: tuple[int, int, int]
    bg_top: tuple[int, int, int]
    bg_bottom: tuple[int, int, int]
    head_rx: float  # horizontal semi-axis / head_ry
    eye_dy: float  # eye height above head centre / head_ry
    eye_dx: float  # half distance between eyes / head_ry
    eye_size: float
    brow_lift: float
    nose_len: float
    mouth_dy: float  # mouth height below head centre / head_ry
    mouth_w: float
    lip_thick: float
    hair_style: int  # 0 short, 1 long, 2 fringe
    beard: bool
    women: bool


def random_identity(rng: np.random.Generator, ethnicity: str, women: bool) -> FaceIdentity:
    """Draw an identity; face shape, colours and background vary per person."""

    def pick(options):
        return tuple(int(c) for c in options[int(rng.integers(len(options)))])

    skin = np.array(pick(SKIN_TONES[ethnicity]), float) * rng.uniform(0.93, 1.05)
    skin = tuple(int(c) for c in np.clip(skin, 0, 255))
    lip = tuple(int(c) for c in np.clip(np.array(skin) * np.array([0.82, 0.62, 0.62]) + [12, 0, 2], 0, 255))
    bg_a = rng.integers(40, 220, size=3)
    bg_b = np.clip(bg_a + rng.integers(-60, 60, size=3), 0, 255)
    return FaceIdentity(
        skin=skin,
        hair=pick(HAIR_COLOURS),
        iris=pick(IRIS_COLOURS),
        cloth=pick(CLOTH_COLOURS),
        lip=lip,
        bg_top=tuple(int(c) for c in bg_a),
        bg_bottom=tuple(int(c) for c in bg_b),
        head_rx=float(rng.uniform(0.72, 0.84) if women else rng.uniform(0.76, 0.9)),
        eye_dy=float(rng.uniform(0.12, 0.22)),
        eye_dx=float(rng.uniform(0.30, 0.38)),
        eye_size=float(rng.uniform(0.11, 0.14)),
        brow_lift=float(rng.uniform(0.12, 0.18)),
        nose_len=float(rng.uniform(0.28, 0.36)),
        mouth_dy=float(rng.uniform(0.46, 0.54)),
        mouth_w=float(rng.uniform(0.26, 0.34)),
        lip_thick=float(rng.uniform(0.045, 0.07)),
        hair_style=int(rng.integers(3)) if not women else int(rng.choice([1, 1, 2])),
        beard=bool((not women) and rng.random() < BEARD_PROBABILITY),
        women=women,
    )


@dataclass
class FrameState:
    """What changes per frame."""

    openness: float  # 0 closed .. 1 wide open
    spread: float  # -1 rounded .. +1 spread
    blink: float  # 0 open eyes .. 1 closed
    dx: float  # head translation (fraction of frame width)
    dy: float
    angle: float  # roll, degrees
    scale: float  # 1.0 nominal


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _SCALE)), int(round(y * _SCALE))


def _ax(a: float, b: float) -> tuple[int, int]:
    return max(1, int(round(a * _SCALE))), max(1, int(round(b * _SCALE)))


def _ellipse(img, c, axes, colour, angle=0.0, thickness=-1, start=0, end=360):
    cv2.ellipse(img, _pt(*c), _ax(*axes), angle, start, end, colour, thickness, cv2.LINE_AA, SHIFT)


def _shade(colour, k: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(c * k, 0, 255)) for c in colour)


class FaceRenderer:
    """Renders frames of one identity at ``size × size`` pixels."""

    def __init__(self, identity: FaceIdentity, size: int):
        self.id = identity
        self.size = size
        s = float(size)
        self.ry = HEAD_RY * s
        self.rx = identity.head_rx * self.ry
        self.cx, self.cy = 0.5 * s, 0.47 * s
        self.background = self._background()
        self.layer, self.alpha = self._static_layer()

    # ---------------------------------------------------------------- static parts
    def _background(self) -> np.ndarray:
        s = self.size
        t = np.linspace(0.0, 1.0, s)[:, None, None]
        top, bot = np.array(self.id.bg_top, float), np.array(self.id.bg_bottom, float)
        bg = (1 - t) * top + t * bot
        bg = np.broadcast_to(bg, (s, s, 3)).copy()
        # soft vignette + a blurred "object" so the background is not flat
        yy, xx = np.mgrid[0:s, 0:s] / s
        vign = 1.0 - 0.25 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2)
        bg *= vign[..., None]
        blob = np.exp(-(((xx - 0.85) ** 2 + (yy - 0.25) ** 2) / 0.02))
        bg += 35.0 * blob[..., None]
        return np.clip(bg, 0, 255).astype(np.float32)

    def _static_layer(self):
        idn, s = self.id, self.size
        img = np.zeros((s, s, 3), np.uint8)
        mask = np.zeros((s, s), np.uint8)
        cx, cy, rx, ry = self.cx, self.cy, self.rx, self.ry
        # shoulders + neck
        _ellipse(img, (cx, cy + 2.15 * ry), (2.0 * rx, 0.9 * ry), idn.cloth)
        _ellipse(mask, (cx, cy + 2.15 * ry), (2.0 * rx, 0.9 * ry), 255)
        neck = _shade(idn.skin, 0.78)
        cv2.rectangle(img, _pt(cx - 0.45 * rx, cy + 0.5 * ry), _pt(cx + 0.45 * rx, cy + 1.45 * ry), neck, -1, cv2.LINE_AA, SHIFT)
        cv2.rectangle(mask, _pt(cx - 0.45 * rx, cy + 0.5 * ry), _pt(cx + 0.45 * rx, cy + 1.45 * ry), 255, -1, cv2.LINE_AA, SHIFT)
        # hair behind the head
        if idn.hair_style == 1:
            _ellipse(img, (cx, cy - 0.05 * ry), (1.1 * rx, 1.0 * ry), idn.hair)
            _ellipse(mask, (cx, cy - 0.05 * ry), (1.1 * rx, 1.0 * ry), 255)
        _ellipse(img, (cx, cy - 0.12 * ry), (1.07 * rx, 1.0 * ry), idn.hair)
        _ellipse(mask, (cx, cy - 0.12 * ry), (1.07 * rx, 1.0 * ry), 255)
        # ears
        for side in (-1, 1):
            _ellipse(img, (cx + side * 0.98 * rx, cy + 0.02 * ry), (0.14 * rx, 0.2 * ry), _shade(idn.skin, 0.85))
            _ellipse(mask, (cx + side * 0.98 * rx, cy + 0.02 * ry), (0.14 * rx, 0.2 * ry), 255)
        # face skin with a lighting gradient (light from the upper left)
        face_mask = np.zeros((s, s), np.uint8)
        _ellipse(face_mask, (cx, cy - 0.1 * ry), (rx, 0.9 * ry), 255)
        _ellipse(face_mask, (cx, cy + 0.2 * ry), (0.82 * rx, 0.8 * ry), 255)
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        nx, ny = (xx - cx) / rx, (yy - cy) / ry
        r2 = np.clip(nx**2 + ny**2, 0, 1)
        light = 1.05 - 0.35 * r2 - 0.08 * nx - 0.05 * ny
        skin = np.array(idn.skin, np.float32)[None, None] * light[..., None]
        # cheeks and forehead highlight, jaw shadow
        skin += 14.0 * np.exp(-((nx + 0.3) ** 2 + (ny + 0.45) ** 2) / 0.05)[..., None]
        skin[..., 0] += 10.0 * (np.exp(-((np.abs(nx) - 0.5) ** 2 + (ny - 0.25) ** 2) / 0.03))
        skin = np.clip(skin, 0, 255).astype(np.uint8)
        fm = face_mask > 0
        img[fm] = skin[fm]
        mask[fm] = 255
        # fringe / hairline over the forehead
        if idn.hair_style in (0, 2):
            start, end = (200, 340) if idn.hair_style == 0 else (190, 350)
            _ellipse(img, (cx, cy - 0.45 * ry), (0.98 * rx, 0.55 * ry), idn.hair, 0, -1, start, end)
        if idn.hair_style == 1:
            _ellipse(img, (cx, cy - 0.5 * ry), (0.95 * rx, 0.5 * ry), idn.hair, 0, -1, 195, 345)
        if idn.beard:
            beard = np.zeros((s, s), np.uint8)
            _ellipse(beard, (cx, cy + 0.55 * ry), (0.85 * rx, 0.48 * ry), 255, 0, -1, 0, 180)
            bm = (beard > 0) & fm
            img[bm] = (0.75 * img[bm] + 0.25 * np.array(idn.hair)).astype(np.uint8)
        # brows
        for side in (-1, 1):
            ex = cx + side * idn.eye_dx * ry
            ey = cy - idn.eye_dy * ry - idn.brow_lift * ry
            thick = max(1, int(round(0.045 * ry)))
            _ellipse(img, (ex, ey + 0.05 * ry), (idn.eye_size * 1.4 * ry, 0.07 * ry), _shade(idn.hair, 0.8), 0, thick, 205, 335)
        # nose: bridge shading, tip highlight, nostrils
        nose_top, nose_bot = cy - 0.05 * ry, cy - 0.05 * ry + idn.nose_len * ry
        cv2.line(img, _pt(cx + 0.06 * ry, nose_top), _pt(cx + 0.09 * ry, nose_bot - 0.05 * ry), _shade(idn.skin, 0.8), 2, cv2.LINE_AA, SHIFT)
        _ellipse(img, (cx, nose_bot + 0.02 * ry), (0.14 * ry, 0.05 * ry), _shade(idn.skin, 0.75))
        _ellipse(img, (cx, nose_bot - 0.03 * ry), (0.11 * ry, 0.06 * ry), _shade(idn.skin, 1.05))
        for side in (-1, 1):
            cv2.line(img, _pt(cx + side * 0.1 * ry, nose_top + 0.1 * ry), _pt(cx + side * 0.13 * ry, nose_bot - 0.02 * ry), _shade(idn.skin, 0.82), 1, cv2.LINE_AA, SHIFT)
        for side in (-1, 1):
            _ellipse(img, (cx + side * 0.07 * ry, nose_bot), (0.035 * ry, 0.022 * ry), _shade(idn.skin, 0.45))
        # eye sockets (soft shadow)
        for side in (-1, 1):
            ex = cx + side * idn.eye_dx * ry
            ey = cy - idn.eye_dy * ry
            _ellipse(img, (ex, ey), (idn.eye_size * 1.45 * ry, idn.eye_size * 0.9 * ry), _shade(idn.skin, 0.78))
        return img, mask

    # ---------------------------------------------------------------- per-frame parts
    def _eyes(self, img, blink: float):
        idn, ry, cx, cy = self.id, self.ry, self.cx, self.cy
        for side in (-1, 1):
            ex, ey = cx + side * idn.eye_dx * ry, cy - idn.eye_dy * ry
            w, h = idn.eye_size * 1.15 * ry, idn.eye_size * 0.6 * ry
            open_h = h * (1.0 - blink)
            if open_h > 0.25:
                _ellipse(img, (ex, ey), (w, open_h), (215, 210, 200))
                _ellipse(img, (ex, ey), (0.85 * h, min(0.9 * h, open_h)), idn.iris)
                _ellipse(img, (ex, ey), (0.4 * h, min(0.4 * h, open_h)), (12, 10, 10))
                _ellipse(img, (ex - 0.15 * h, ey - 0.15 * h), (0.1 * h, 0.1 * h), (250, 250, 250))
            # upper lid line and lid fold
            lash = max(1, int(round(0.035 * ry)))
            _ellipse(img, (ex, ey), (w, max(open_h, 0.5)), (30, 22, 22), 0, lash, 180, 360)
            _ellipse(img, (ex, ey - 0.1 * h), (w * 1.05, h * 1.1), _shade(idn.skin, 0.7), 0, 1, 200, 340)

    def _mouth(self, img, openness: float, spread: float):
        idn, ry, cx, cy = self.id, self.ry, self.cx, self.cy
        mx, my = cx, cy + idn.mouth_dy * ry
        w = idn.mouth_w * ry * (1.0 + 0.18 * spread - 0.1 * max(openness - 0.5, 0.0))
        opening = float(np.clip(openness, 0.0, 1.0)) * MAX_MOUTH_OPEN * ry
        t = idn.lip_thick * ry
        lip_dark, lip_light = _shade(idn.lip, 0.8), _shade(idn.lip, 1.1)
        # perioral shadow (moves with the jaw)
        _ellipse(img, (mx, my + 0.35 * opening + 0.1 * ry), (w * 1.15, 0.5 * opening + 0.12 * ry), _shade(idn.skin, 0.93))
        # lips: upper (darker), lower (lighter, moves down with the jaw)
        _ellipse(img, (mx, my - 0.5 * opening), (w, t + 0.5 * opening), lip_dark, 0, -1, 180, 360)
        _ellipse(img, (mx, my - 0.5 * opening), (w, 0.5 * t), lip_dark)
        _ellipse(img, (mx, my + 0.5 * opening), (w * 0.95, 1.3 * t + 0.5 * opening), lip_light, 0, -1, 0, 180)
        _ellipse(img, (mx, my + 0.5 * opening + 0.6 * t), (0.4 * w, 0.25 * t), _shade(idn.lip, 1.12))
        if opening > 0.3:
            _ellipse(img, (mx, my), (w * 0.8, opening * 0.55), (70, 32, 32))
            # upper teeth
            _ellipse(img, (mx, my - 0.45 * opening), (w * 0.55, min(0.3 * opening, 0.06 * ry)), (180, 170, 160), 0, -1, 0, 180)
        else:
            cv2.line(img, _pt(mx - w * 0.85, my), _pt(mx + w * 0.85, my), _shade(idn.lip, 0.45), 1, cv2.LINE_AA, SHIFT)

    def mouth_box(self, state: FrameState) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the lower-face region around the mouth, in frame pixels."""
        m = self._matrix(state)
        mx, my = self.cx, self.cy + self.id.mouth_dy * self.ry
        px, py = m @ np.array([mx, my, 1.0])
        half_w, half_h = 0.55 * self.ry, 0.38 * self.ry
        return (int(px - half_w), int(py - half_h), int(px + half_w), int(py + half_h))

    def face_mask(self, state: FrameState, inner: float = 0.9) -> np.ndarray:
        """Soft float mask (H, W) in [0, 1] of the inner face region in frame coordinates."""
        s = self.size
        mask = np.zeros((s, s), np.uint8)
        _ellipse(mask, (self.cx, self.cy + 0.05 * self.ry), (inner * self.rx, inner * self.ry), 255)
        mask = cv2.warpAffine(mask, self._matrix(state), (s, s), flags=cv2.INTER_LINEAR)
        k = max(3, int(0.12 * s) | 1)
        return cv2.GaussianBlur(mask, (k, k), 0).astype(np.float32) / 255.0

    def _matrix(self, state: FrameState) -> np.ndarray:
        m = cv2.getRotationMatrix2D((self.cx, self.cy), state.angle, state.scale)
        m[0, 2] += state.dx * self.size
        m[1, 2] += state.dy * self.size
        return m

    def render_clean(self, state: FrameState) -> np.ndarray:
        """Frame before blur/noise: float32 (H, W, 3) RGB in 0..255."""
        img = self.layer.copy()
        self._eyes(img, state.blink)
        self._mouth(img, state.openness, state.spread)
        s = self.size
        m = self._matrix(state)
        rgba = cv2.warpAffine(np.dstack([img, self.alpha]), m, (s, s), flags=cv2.INTER_LINEAR).astype(np.float32)
        alpha = rgba[..., 3:] / 255.0
        return rgba[..., :3] * alpha + self.background * (1.0 - alpha)


def finish_frame(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Optical blur + camera noise -> uint8 RGB."""
    size = clean.shape[0]
    sigma = OPTICAL_BLUR_SIGMA * size / 128.0
    img = cv2.GaussianBlur(clean, (0, 0), sigma)
    img = img + CAMERA_NOISE_STD * rng.standard_normal(size=img.shape, dtype=np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
