"""The ``image`` rule: raster images compared pixel by pixel.

How the defaults were chosen. Figures drawn with matplotlib 3.11.2 (Agg, 100
dpi, 640x480: a bar chart with a title, a line plot with markers, a filled
band and a grid, a histogram with a text label; numpy 2.4, one seed) were
rendered again and compared pixel by pixel, as the share of pixels whose
largest RGBA channel delta exceeds a given value:

===============================================================  ============  ==========  =========
re-rendering                                                     differ > 0    differ > 4  max delta
===============================================================  ============  ==========  =========
the same script again; agg.path.chunksize 50; path.simplify off  0             0           0
data times 1 + 1e-15 ... 1e-9 (machine-precision noise)          0             0           0
data times 1 + 1e-7, 1e-6, 1e-5                                  0.001-0.043%  0           1
data times 1 + 1e-4 (about 1/50 of a pixel)                      0.32%         0.0007%     5
0.9% of pixels moved by 1/255 (synthetic anti-aliasing noise)    0.89%         0           1
text.hinting "auto" or "none" instead of "default"               0.50-0.68%    0.44-0.62%  195-255
matplotlib 3.10.9 or 3.8.4 instead of 3.11.2                     0.60-0.74%    0.58-0.72%  255
one bar of five 5% taller                                        0.17%         0.17%       224
one character of the title changed ("n = 100" -> "n = 101")      0.034%        0.033%      255
one point of 40 moved by 0.3 (line, band and marker move)        11.1%         10.3%       255
a band of 10 rows of pixels inverted (a forged figure)           2.08%         2.08%       255
===============================================================  ============  ==========  =========

Re-rendering with the same library versions and data that differs at machine
precision moves no pixel, or a few by 1/255; any real change moves pixels by
more than 200/255. Another font hinting or another matplotlib version looks
like a real change (glyph edges move by up to 255), which is why the lock pins
the plotting library. So by default a pixel differs only when a channel moves
by more than ``tolerance`` 4 (of 255: above anti-aliasing noise, far below
any real change), and no such pixel is tolerated (``threshold`` 0). The
measured largest delta is always reported.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageSequence

from repropack.compare.excerpts import counted
from repropack.compare.options import channel_delta, fraction, option
from repropack.compare.rules import RULES, ComparisonRule, RuleOutcome
from repropack.compare.tolerance import DEFAULT_TOLERANCE


@dataclass(frozen=True)
class ImageOptions:
    tolerance: int = option(
        DEFAULT_TOLERANCE, channel_delta
    )  # a pixel differs when a channel moves by more than this (0..255)
    threshold: float = option(0.0, fraction)  # the share of differing pixels still called equal (0..1)


@RULES.register
class ImageRule(ComparisonRule):
    """Equal when the images have the same size and frame count, and at most
    ``threshold`` of the pixels differ by more than ``tolerance`` in some
    RGBA channel. Encoding, compression and metadata are ignored.
    """

    name = "image"
    default_globs = ("*.png", "*.jpg", "*.jpeg", "*.gif", "*.bmp", "*.tif", "*.tiff", "*.webp")
    Options = ImageOptions
    settings: ImageOptions

    def compare(self, recorded: Path, produced: Path) -> RuleOutcome:
        with Image.open(recorded) as old, Image.open(produced) as new:
            return self.compare_images(old, new)

    def compare_encoded(self, recorded: bytes, produced: bytes) -> RuleOutcome:
        """Like ``compare``, for images held in memory (such as a notebook's embedded PNGs)."""
        with Image.open(io.BytesIO(recorded)) as old, Image.open(io.BytesIO(produced)) as new:
            return self.compare_images(old, new)

    def compare_images(self, recorded: Image.Image, produced: Image.Image) -> RuleOutcome:
        if recorded.size != produced.size:
            return RuleOutcome(equal=False, detail=f"size differs: {_size(recorded)} != {_size(produced)}")
        old_frames = [frame.convert("RGBA") for frame in ImageSequence.Iterator(recorded)]
        new_frames = [frame.convert("RGBA") for frame in ImageSequence.Iterator(produced)]
        if len(old_frames) != len(new_frames):
            return RuleOutcome(
                equal=False, detail=f"{counted(len(old_frames), 'frame')} != {counted(len(new_frames), 'frame')}"
            )
        differing, touched, largest_delta = 0, 0, 0
        for old, new in zip(old_frames, new_frames):
            count, any_change, delta = self._differing_pixels(old, new)
            differing += count
            touched += any_change
            largest_delta = max(largest_delta, delta)
        pixels = recorded.width * recorded.height * len(old_frames) or 1
        share = differing / pixels
        equal = share <= self.settings.threshold
        if differing == 0:
            if not largest_delta:
                return RuleOutcome(equal=True, detail="same pixels; encoding or metadata differ")
            return RuleOutcome(
                equal=True,
                detail=(
                    f"{_percent(touched / pixels)} of pixels differ by at most {largest_delta}/255, "
                    f"within tolerance {self.settings.tolerance}"
                ),
            )
        beyond = f" by more than {self.settings.tolerance}" if self.settings.tolerance else ""
        detail = (
            f"{_percent(share)} of pixels differ{beyond} (max channel delta {largest_delta}); "
            f"threshold {_percent(self.settings.threshold)}"
        )
        return RuleOutcome(equal=equal, detail=detail)

    def _differing_pixels(self, old: Image.Image, new: Image.Image) -> tuple[int, int, int]:
        """How many pixels differ by more than the tolerance, how many differ at all, and the largest channel delta."""
        channel_deltas = ImageChops.difference(old, new).split()
        largest = channel_deltas[0]
        for band in channel_deltas[1:]:
            largest = ImageChops.lighter(largest, band)
        histogram = largest.histogram()  # histogram[d] = pixels whose largest channel delta is d
        count = sum(histogram[self.settings.tolerance + 1 :])
        max_delta = max((delta for delta, pixels in enumerate(histogram) if pixels), default=0)
        return count, sum(histogram[1:]), max_delta


def _size(image: Image.Image) -> str:
    return f"{image.width}x{image.height}"


def _percent(share: float) -> str:
    # One decimal reads well from 1% up; below, two significant digits, so a few
    # differing pixels never show as "0.0%" and 0.25% not as "0.2%".
    percent = share * 100
    if 0 < percent < 1:
        return f"{percent:.2g}%"
    return f"{percent:.1f}%"
