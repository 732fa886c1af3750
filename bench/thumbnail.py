"""The thumbnailer's time and memory (issue 16): part of ``make bench``, runnable on its own.

``python3 bench/thumbnail.py`` builds ``bench/thumbnail`` (package ``bench-thumbnail``) with the
profile AWS gets (``cargo build --release``: opt-level "z", fat LTO, one codegen unit, in
``target/aws`` like ``make bench``'s bootstraps) and runs it once per image, each in a process of
its own (peak RSS is the process's VmHWM, so one image a process): photo-like baseline JPEGs of
2, 12 and 24 MP and at the pixel limit (``ImageMaxPixels``' default in infra/template.yaml), and
the worst cases at the pixel limit: a 16-bit RGBA PNG (8 bytes a pixel decoded, what the decode
budget is sized for) and a progressive 4:4:4 JPEG (the decoder keeps every DCT coefficient, 2
bytes a sample, beside the output: the largest peak measured; needs jpegtran, else skipped). Each process runs
``shop_core::media::thumbnails`` (what the function runs on an upload it has fetched: header
check, decode within the limits, the 128 and 512 px JPEGs) BENCH_THUMBNAIL_RUNS times (default
5). Prints the table; ``make bench`` (bench/run.py) puts the figures in bench/results.{json,md}.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PACKAGE = "bench-thumbnail"
TARGET_DIR = REPO / "target" / "aws"
TEMPLATE = REPO / "infra" / "template.yaml"

METHOD = (
    "bench/thumbnail (release profile as deployed: opt-level z, fat LTO) runs shop_core::media::thumbnails "
    "(header check, decode within MediaLimits and its decode budget, 128 + 512 px JPEG q80) on the whole object "
    "in memory, as the function does after its GET, one image per process; the image is generated "
    "deterministically by a child process (photo-like baseline JPEG q85: colour fields, shapes, noise from a fixed "
    "seed; png16: smooth 16-bit RGBA; jpeg-progressive: that JPEG made progressive by jpegtran, losslessly), so "
    "its raw pixels never count; ms = wall time of one thumbnails() call, "
    "ms/MP = its p50 / megapixels; peak RSS = VmHWM of the process (runtime + object + decode + thumbnails); "
    "x86_64 on this machine, one core busy (the decode is single-threaded)"
)


def _template_default(parameter: str) -> int | None:
    """The Default of a template parameter (a plain number)."""
    text = TEMPLATE.read_text()
    m = re.search(rf"^  {parameter}:\n(?:    .*\n)*?    Default: (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def _memory_size() -> int | None:
    """ThumbnailerFunction's MemorySize in the template."""
    text = TEMPLATE.read_text()
    m = re.search(r"^  ThumbnailerFunction:\n(?:(?:    .*)?\n)*?      MemorySize: (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


def _at_limit(pixels: int) -> tuple[int, int]:
    """The largest 4:3 image of at most ``pixels``."""
    width = math.isqrt(pixels * 4 // 3)
    return width, pixels // width


def cases(max_pixels: int) -> list[tuple[str, str, int, int]]:
    """(label, format, width, height) of every measured image."""
    w, h = _at_limit(max_pixels)
    limit = f"{max_pixels / 1e6:g} MP (the limit)"
    return [
        ("2 MP", "jpeg", 1632, 1224),
        ("12 MP", "jpeg", 4000, 3000),
        ("24 MP", "jpeg", 6000, 4000),
        (limit, "jpeg", w, h),
        (limit, "png16", w, h),
        (limit, "jpeg-progressive", w, h),
    ]


def _command(binary: Path, fmt: str, width: int, height: int, runs: int, tmp: Path) -> list[str] | str:
    """The bench's command line for one case, or why it cannot run. A progressive JPEG (the
    `image` crate encodes baseline only) is the generated baseline one made progressive,
    losslessly, by libjpeg-turbo's jpegtran, when it is installed."""
    if fmt != "jpeg-progressive":
        return [str(binary), str(width), str(height), "--format", fmt, "--runs", str(runs)]
    jpegtran = shutil.which("jpegtran")
    if not jpegtran:
        return "jpegtran not installed (Debian: apt-get install libjpeg-turbo-progs)"
    baseline, progressive = tmp / "baseline.jpg", tmp / "progressive.jpg"
    try:
        with baseline.open("wb") as out:
            subprocess.run([str(binary), "--generate", "jpeg", str(width), str(height)], stdout=out, check=True)
        subprocess.run([jpegtran, "-progressive", "-optimize", "-outfile", str(progressive), str(baseline)],
                       check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        return f"making the progressive JPEG failed: {err}"
    baseline.unlink()
    return [str(binary), "--file", str(progressive), "--runs", str(runs)]


def build() -> Path:
    """The bench binary, built like the deployed bootstraps (cargo's release profile)."""
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET_DIR))
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", PACKAGE], cwd=REPO, env=env, check=True)
    return TARGET_DIR / "release" / PACKAGE


def _fit(points: list[tuple[float, float]]) -> dict | None:
    """Least squares: ms = a + b MP."""
    if len(points) < 2:
        return None
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in points) / sxx
    return {"ms_per_megapixel": round(b, 2), "fixed_ms": round(my - b * mx, 1)}


def measure(runs: int | None = None) -> dict:
    """Builds the bench and measures every case; failures are recorded per case."""
    runs = runs or int(os.environ.get("BENCH_THUMBNAIL_RUNS", "5"))
    max_pixels = _template_default("ImageMaxPixels") or 40_000_000
    limits = {"IMAGE_MAX_PIXELS": max_pixels, "IMAGE_MAX_BYTES": _template_default("ImageMaxBytes"),
              "IMAGE_MAX_DIMENSION": _template_default("ImageMaxDimension")}
    started = time.time()
    binary = build()
    results = []
    for label, fmt, width, height in cases(max_pixels):
        print(f"bench: thumbnailer {label} {fmt} {width}x{height} ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            command = _command(binary, fmt, width, height, runs, Path(tmp))
            if isinstance(command, str):
                results.append({"label": label, "format": fmt, "width": width, "height": height,
                                "skipped": f"not measured: {command}"})
                continue
            load = os.getloadavg()[0]
            # The function's limits: the template's defaults, given as the template gives them.
            env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGE_MAX_")}
            env.update({var: str(value) for var, value in limits.items() if value is not None})
            done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            results.append({"label": label, "format": fmt, "width": width, "height": height,
                            "skipped": f"failed: {done.stderr.strip()[-300:]}"})
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row.update(label=label, format=fmt, loadavg_before=round(load, 2))
        results.append(row)
    jpegs = [r for r in results if r.get("format") == "jpeg" and not r.get("skipped")]
    by_label = {(r["label"], r.get("format")): r for r in results}
    return {
        "method": METHOD,
        "profile": "release (opt-level z, fat LTO, codegen-units 1), x86_64",
        "runs": runs,
        "max_pixels": max_pixels,
        "memory_size_mb": _memory_size(),
        "cases": results,
        "jpeg_fit": _fit([(r["megapixels"], r["ms_p50"]) for r in jpegs]),
        "peak_rss_12mp_mb": (by_label.get(("12 MP", "jpeg")) or {}).get("peak_rss_mb"),
        "elapsed_s": round(time.time() - started, 1),
    }


def _f(v, digits=1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def table(t: dict | None) -> list[str]:
    """Markdown lines for bench/results.md and this script's output."""
    if not t:
        return []
    if t.get("skipped"):
        return ["### The thumbnailer", "", f"Not measured: {t['skipped']}.", ""]
    out = [
        "### The thumbnailer (one upload: decode, 128 + 512 px thumbnails, JPEG encodes)",
        "",
        "| image | format | size px | object MB | ms p50 (min) | ms per MP | peak RSS MB | RSS before MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in t["cases"]:
        if r.get("skipped"):
            out.append(f"| {r['label']} | {r['format']} | {r['width']}×{r['height']} | {r['skipped']} | | | | |")
            continue
        out.append(
            f"| {r['label']} | {r['format']} | {r['width']}×{r['height']} | {r['input_bytes'] / 1e6:.2f} "
            f"| {_f(r['ms_p50'])} ({_f(r['ms_min'])}) | {_f(r['ms_per_megapixel'], 2)} | **{_f(r['peak_rss_mb'])}** "
            f"| {_f(r['rss_before_mb'])} |")
    fit = t.get("jpeg_fit")
    worst = max((r["peak_rss_mb"] for r in t["cases"] if not r.get("skipped")), default=None)
    mem = t.get("memory_size_mb")
    out += [
        "",
        (f"JPEG fit over the sizes: {fit['fixed_ms']:.1f} ms + **{fit['ms_per_megapixel']:.2f} ms per MP**. "
         if fit else "")
        + f"Largest peak RSS {_f(worst)} MB against the function's MemorySize {mem if mem else '?'} MB "
        f"(infra/template.yaml); pixel limit {t['max_pixels']:,}. {t['runs']} runs per image; {t['profile']}; "
        f"took {t.get('elapsed_s', 0):.0f} s with the build.",
        "",
        "Method: " + t["method"] + ".",
        "",
    ]
    return out


def main() -> int:
    t = measure()
    print(json.dumps(t, indent=2), file=sys.stderr)
    print("\n".join(table(t)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
