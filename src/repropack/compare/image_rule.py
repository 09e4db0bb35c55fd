"""The ``image`` rule: raster images compared pixel by pixel."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageSequence

from repropack.compare.excerpts import counted
from repropack.compare.options import channel_delta, fraction, option
from repropack.compare.rules import RULES, ComparisonRule, RuleOutcome


@dataclass(frozen=True)
class ImageOptions:
    tolerance: int = option(0, channel_delta)  # a pixel differs when a channel moves by more than this (0..255)
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
        differing, largest_delta = 0, 0
        for old, new in zip(old_frames, new_frames):
            count, delta = self._differing_pixels(old, new)
            differing += count
            largest_delta = max(largest_delta, delta)
        share = differing / (recorded.width * recorded.height * len(old_frames) or 1)
        equal = share <= self.settings.threshold
        if differing == 0:
            within = f" within tolerance {self.settings.tolerance}" if largest_delta else ""
            return RuleOutcome(equal=True, detail=f"same pixels{within}; encoding or metadata differ")
        beyond = f" by more than {self.settings.tolerance}" if self.settings.tolerance else ""
        detail = (
            f"{_percent(share)} of pixels differ{beyond} (max channel delta {largest_delta}); "
            f"threshold {_percent(self.settings.threshold)}"
        )
        return RuleOutcome(equal=equal, detail=detail)

    def _differing_pixels(self, old: Image.Image, new: Image.Image) -> tuple[int, int]:
        """How many pixels differ by more than the tolerance, and the largest channel delta."""
        channel_deltas = ImageChops.difference(old, new).split()
        largest = channel_deltas[0]
        for band in channel_deltas[1:]:
            largest = ImageChops.lighter(largest, band)
        histogram = largest.histogram()  # histogram[d] = pixels whose largest channel delta is d
        count = sum(histogram[self.settings.tolerance + 1 :])
        max_delta = max((delta for delta, pixels in enumerate(histogram) if pixels), default=0)
        return count, max_delta


def _size(image: Image.Image) -> str:
    return f"{image.width}x{image.height}"


def _percent(share: float) -> str:
    # One decimal reads well, but must not show a few differing pixels as "0.0%".
    percent = share * 100
    if 0 < percent < 0.1:
        return f"{percent:.2g}%"
    return f"{percent:.1f}%"
