"""How wide libass draws a text: font files from fontconfig, advances from the font.

Text burned into video must wrap inside the frame and shrink when it would not
fit, and libass cannot be asked beforehand. So the width is computed the way
libass lays text out: it sizes a face so that its Windows ascent plus descent
(the OS/2 ``usWinAscent + usWinDescent``) equals the ASS font size
(``FT_SIZE_REQUEST_TYPE_REAL_DIM`` in libass's ``ass_face_set_size``), and puts
glyphs one advance after the other. A character the main font lacks is drawn
from a fallback font (libass asks fontconfig, as here). Kerning and shaping move
a line by a few per cent at most; callers keep that much room.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from langflix.core.process import run_process
from langflix.errors import LangFlixError

__all__ = [
    "DEFAULT_FONT_FAMILY",
    "FALLBACK_FONT_FAMILY",
    "FontFile",
    "TextMeasure",
    "find_font_file",
    "text_measure",
]

logger = logging.getLogger(__name__)

DEFAULT_FONT_FAMILY: Final[str] = "Noto Sans CJK KR"
"""Shows Korean and Latin alike (Debian: fonts-noto-cjk)."""

FALLBACK_FONT_FAMILY: Final[str] = "DejaVu Sans"
"""Symbols and the monochrome emoji the CJK font lacks (Debian: fonts-dejavu-core)."""

_SYNTHETIC_BOLD: Final[float] = 1.06
"""Width of libass's emboldened glyphs against the regular ones, when no bold face exists."""


@dataclass(frozen=True, slots=True)
class FontFile:
    """One face of a font file, as fontconfig names it (``index`` inside a .ttc)."""

    path: Path
    index: int
    family: str
    bold: bool


def find_font_file(family: str, *, bold: bool = False) -> FontFile | None:
    """The file fontconfig would give libass for ``family``; None when it lacks that family.

    ``fc-match`` always answers with *some* font, so its answer is only taken
    when the family really matches.
    """
    pattern = f"{family}:weight=bold" if bold else family
    try:
        result = run_process(["fc-match", "-f", "%{file}\n%{index}\n%{family}", pattern], timeout=10)
    except LangFlixError as exc:
        logger.debug("fc-match failed for %s: %s", pattern, exc)
        return None
    file, _, rest = result.stdout.decode("utf-8", "replace").partition("\n")
    index, _, families = rest.partition("\n")
    names = {name.strip().lower() for name in families.split(",")}
    if family.lower() not in names or not Path(file).is_file():
        return None
    return FontFile(Path(file), int(index or 0), family, bold)


@dataclass(frozen=True, slots=True)
class _Face:
    """Advance widths of one face in units of its libass size (win ascent + descent)."""

    advances: dict[int, float]

    @classmethod
    def load(cls, font: FontFile) -> _Face:
        # Imported here: fontTools takes a while to import and only layout needs it.
        from fontTools.ttLib import TTCollection, TTFont

        if font.path.suffix.lower() in (".ttc", ".otc"):
            face = TTCollection(str(font.path), lazy=True).fonts[font.index]
        else:
            face = TTFont(str(font.path), lazy=True)
        os2 = face["OS/2"]
        height = int(os2.usWinAscent) + int(os2.usWinDescent)
        if height <= 0:  # a broken font: libass falls back on the em box
            height = int(face["head"].unitsPerEm)
        metrics = face["hmtx"].metrics
        advances = {code: metrics[glyph][0] / height for code, glyph in face.getBestCmap().items()}
        return cls(advances)


class TextMeasure:
    """Widths, in script pixels, of text drawn by libass at an ASS font size.

    Built from the faces fontconfig gives for the main family (regular and bold)
    and the fallback family (see :func:`text_measure`); without a main face it
    estimates from character classes (wide CJK, narrower Latin), which keeps
    wrapping sane but not exact.
    """

    def __init__(
        self,
        regular: FontFile | None,
        bold: FontFile | None = None,
        fallback: FontFile | None = None,
        fallback_bold: FontFile | None = None,
    ) -> None:
        self._regular = _load(regular)
        self._bold = _load(bold)
        self._fallback = _load(fallback)
        self._fallback_bold = _load(fallback_bold)
        self._cache: dict[tuple[str, bool], float] = {}

    @property
    def exact(self) -> bool:
        """True when widths come from the real font, not an estimate."""
        return self._regular is not None

    def width(self, text: str, size: float, *, bold: bool = False) -> float:
        """Width of one line of ``text`` at ASS font size ``size``."""
        return size * sum(self._unit(char, bold) for char in text)

    def line_height(self, size: float) -> float:
        """Height of one line at ``size``: libass makes ascent plus descent equal the size."""
        return size

    def _unit(self, char: str, bold: bool) -> float:
        key = (char, bold)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._lookup(char, bold)
        return cached

    def _lookup(self, char: str, bold: bool) -> float:
        code = ord(char)
        if unicodedata.category(char) in ("Mn", "Me", "Cf", "Cc"):
            return 0.0  # combining marks and invisible format characters take no room
        main, spare = (self._bold, self._fallback_bold) if bold else (self._regular, self._fallback)
        synthetic = 1.0
        if bold and main is None:
            main, spare, synthetic = self._regular, self._fallback, _SYNTHETIC_BOLD
        for face in (main, spare):
            if face is not None and code in face.advances:
                return face.advances[code] * synthetic
        if self._regular is None:
            wide = unicodedata.east_asian_width(char) in ("W", "F")
            return (0.72 if wide else 0.42) * synthetic
        # Drawn from some other font fontconfig finds: assume a full square.
        return 1.0


def _load(font: FontFile | None) -> _Face | None:
    if font is None:
        return None
    try:
        return _Face.load(font)
    except Exception as exc:  # noqa: BLE001 - an unreadable font only degrades the estimate
        logger.warning("cannot read font %s (%s); text widths are estimated", font.path, exc)
        return None


def text_measure(family: str = DEFAULT_FONT_FAMILY) -> TextMeasure:
    """The measure for ``family`` (with its bold face and the fallback family), loaded once."""
    # One cache key per family, however it is passed (a default and a keyword differ to lru_cache).
    return _measure_for(family)


@functools.lru_cache(maxsize=4)
def _measure_for(family: str) -> TextMeasure:
    regular = find_font_file(family)
    if regular is None:
        logger.warning(
            "font %r not found; text widths are estimated (install fonts-noto-cjk for Korean)", family
        )
    return TextMeasure(
        regular,
        find_font_file(family, bold=True),
        find_font_file(FALLBACK_FONT_FAMILY),
        find_font_file(FALLBACK_FONT_FAMILY, bold=True),
    )
