"""Draws the demo data's images into web/media/: course covers, banners, teacher avatars.

The images are committed, so nothing runs this at build or start; run it again after a change
here (`.venv/bin/python -m services.catalog.demo_images`). Pillow comes with the test tools,
and its bundled font makes the same picture on every machine: no download, no system font.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

MEDIA = Path(__file__).resolve().parents[2] / "web" / "media"

# (top-left colour, bottom-right colour) per picture; the seed's yellow first.
THEMES = [("#ffc210", "#ff7a00"), ("#2f80ed", "#56ccf2"), ("#27ae60", "#6fcf97"),
          ("#9b51e0", "#f2994a"), ("#eb5757", "#f2c94c"), ("#00a3a3", "#2d3e50")]
GLYPHS = ["</>", "{ }", ">_", "=>", "#!", "::"]  # ASCII: the bundled font has no λ
BANNERS = [  # the catalog demo's banners, in order: title, line below it, theme
    ("Python full stack", "From zero to a shipped web app", 1),
    ("Linux operations", "Run real systems with confidence", 5),
    ("Go", "Fast, simple, concurrent", 2),
    ("Flash sale", "Limited seats at 9.90", 4),
]
TEACHERS = ["Alex", "Egon", "Lily", "Wang Wei", "Chen Jing"]  # services/catalog/demo.py

COVER_SIZE, BANNER_SIZE, AVATAR_SIZE = (600, 300), (1200, 400), (160, 160)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _gradient(size: tuple[int, int], start: str, end: str) -> Any:
    from PIL import Image

    # A diagonal blend: the mean of a horizontal and a vertical ramp, stretched to size.
    vertical = Image.linear_gradient("L")
    ramp = Image.blend(vertical.rotate(90), vertical, 0.5).resize(size)
    return Image.composite(Image.new("RGB", size, _rgb(end)), Image.new("RGB", size, _rgb(start)),
                           ramp)


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _circles(image: Any, rng: random.Random, count: int) -> None:
    from PIL import Image, ImageDraw

    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    width, height = image.size
    for _ in range(count):
        radius = rng.randint(height // 6, height // 2)
        x, y = rng.randint(0, width), rng.randint(0, height)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius),
                     fill=(255, 255, 255, rng.randint(18, 40)))
    image.paste(layer, (0, 0), layer)


def cover(number: int) -> Any:
    """A course cover: a themed gradient with a code editor window and a glyph."""
    from PIL import ImageDraw

    start, end = THEMES[(number - 1) % len(THEMES)]
    rng = random.Random(number)
    image = _gradient(COVER_SIZE, start, end)
    _circles(image, rng, 4)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = 40, 50, 360, 250
    draw.rounded_rectangle((left, top, right, bottom), 14, fill="#1e2430")
    for i, colour in enumerate(("#ff5f56", "#ffbd2e", "#27c93f")):
        draw.ellipse((left + 16 + i * 20, top + 14, left + 28 + i * 20, top + 26), fill=colour)
    palette = ["#82aaff", "#c3e88d", "#f78c6c", "#c792ea", "#89ddff", "#ffcb6b"]
    y = top + 48
    while y < bottom - 20:
        indent = rng.choice((0, 0, 24, 48))
        x = left + 20 + indent
        for _ in range(rng.randint(1, 3)):
            length = rng.randint(30, 90)
            if x + length > right - 20:
                break
            draw.rounded_rectangle((x, y, x + length, y + 9), 4, fill=rng.choice(palette))
            x += length + 10
        y += 22
    glyph = GLYPHS[(number - 1) % len(GLYPHS)]
    draw.text((480, 150), glyph, font=_font(84), fill="white", anchor="mm")
    return image


def banner(number: int) -> Any:
    """A home-page banner: gradient, circles, the banner's title and its line."""
    from PIL import ImageDraw

    title, line, theme = BANNERS[number - 1]
    start, end = THEMES[theme]
    image = _gradient(BANNER_SIZE, start, end)
    _circles(image, random.Random(100 + number), 7)
    draw = ImageDraw.Draw(image)
    draw.text((90, 150), title, font=_font(84), fill="white", anchor="lm")
    draw.text((92, 240), line, font=_font(38), fill=(255, 255, 255, 220), anchor="lm")
    draw.rounded_rectangle((92, 290, 292, 340), 25, outline="white", width=3)
    draw.text((192, 315), "Learn more", font=_font(24), fill="white", anchor="mm")
    return image


def avatar(number: int) -> Any:
    """A teacher's avatar: initials on a coloured disc, transparent outside it."""
    from PIL import Image, ImageDraw

    name = TEACHERS[number - 1]
    start, end = THEMES[(number + 2) % len(THEMES)]
    size = AVATAR_SIZE
    disc = Image.new("L", size, 0)
    ImageDraw.Draw(disc).ellipse((0, 0, size[0] - 1, size[1] - 1), fill=255)
    image = _gradient(size, start, end).convert("RGBA")
    image.putalpha(disc)
    initials = "".join(part[0] for part in name.split())[:2].upper()
    ImageDraw.Draw(image).text((size[0] / 2, size[1] / 2), initials, font=_font(64),
                               fill="white", anchor="mm")
    return image


def demo_images() -> dict[str, Any]:
    """Path under the media folder -> image, for every image services/catalog/demo.py uses."""
    found = {f"courses/{n}.jpg": cover(n) for n in range(1, len(THEMES) + 1)}
    found |= {f"banners/{n}.jpg": banner(n) for n in range(1, len(BANNERS) + 1)}
    found |= {f"teachers/{n}.png": avatar(n) for n in range(1, len(TEACHERS) + 1)}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", type=Path, default=MEDIA)
    media = parser.parse_args().media
    for relative, image in demo_images().items():
        path = media / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".jpg":
            image.save(path, "JPEG", quality=82, optimize=True, progressive=True)
        else:
            image.save(path, "PNG", optimize=True)
        print(f"{path}: {image.size[0]}x{image.size[1]}, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
