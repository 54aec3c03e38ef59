"""Compressed RLE strings made by pycocotools' own C code, for tests/eval/rle_encode_test.ts.

Provenance: cocodataset/cocoapi, commit 8c9bcc3cf640524c4c20a9c40e89cb6a2f2fa0e9,
common/maskApi.c and common/maskApi.h (the C code behind pycocotools' mask.encode).
pycocotools cannot be installed from PyPI here, so this script compiles those two files
in /tmp together with a small driver of its own and calls rleEncode + rleToString on
Fortran-order masks. Nothing of cocoapi is committed; only the strings it produced.

Run (the cocoapi checkout or bare git mirror as the argument):
    /usr/bin/python3 tests/eval/data/rle_encode/generate.py /work/.mirror/cocodataset+cocoapi/repo
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np

COMMIT = "8c9bcc3cf640524c4c20a9c40e89cb6a2f2fa0e9"
OUT = pathlib.Path(__file__).with_name("pycocotools_strings.json")
WORK = pathlib.Path("/tmp/tailor_rle_encode_gen")

# Reads masks from stdin (uint32 h, uint32 w, then h*w bytes in column-major order),
# prints one compressed string per mask.
DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "maskApi.h"
int main(void) {
  unsigned int hw[2];
  while (fread(hw, sizeof(unsigned int), 2, stdin) == 2) {
    siz n = (siz)hw[0] * hw[1];
    byte *m = malloc(n ? n : 1);
    if (n && fread(m, 1, n, stdin) != n) return 1;
    RLE r;
    rleEncode(&r, m, hw[0], hw[1], 1);
    char *s = rleToString(&r);
    printf("%s\n", s);
    free(s); rleFree(&r); free(m);
  }
  return 0;
}
"""


def source(repo: str, name: str) -> str:
    path = pathlib.Path(repo) / "common" / name
    if path.exists():
        return path.read_text()
    return subprocess.run(["git", "--git-dir", repo, "show", f"{COMMIT}:common/{name}"],
                          check=True, capture_output=True, text=True).stdout


def build(repo: str) -> pathlib.Path:
    WORK.mkdir(parents=True, exist_ok=True)
    for name in ("maskApi.c", "maskApi.h"):
        (WORK / name).write_text(source(repo, name))
    (WORK / "driver.c").write_text(DRIVER)
    exe = WORK / "driver"
    subprocess.run(["cc", "-O2", "-o", str(exe), str(WORK / "driver.c"), str(WORK / "maskApi.c"), "-lm"],
                   check=True, cwd=WORK)
    return exe


def runs(mask: np.ndarray) -> str:
    """Column-major run lengths starting with background, computed independently of cocoapi; space-separated."""
    flat = mask.flatten(order="F").astype(np.int64)
    if flat.size == 0:
        return "0"
    edges = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    lengths = np.diff(bounds).tolist()
    return " ".join(map(str, ([0] + lengths) if flat[0] == 1 else lengths))


def masks(rng: np.random.Generator):
    yield np.zeros((0, 0), np.uint8)
    yield np.zeros((1, 1), np.uint8)
    yield np.ones((1, 1), np.uint8)
    yield np.zeros((3, 5), np.uint8)
    yield np.ones((4, 2), np.uint8)
    for _ in range(30):
        h, w = rng.integers(1, 40, size=2)
        yield (rng.random((h, w)) < rng.uniform(0.05, 0.95)).astype(np.uint8)
    # Large masks of a few rectangles: long runs, multi-character counts and negative differences.
    for _ in range(12):
        h, w = rng.integers(100, 1400, size=2)
        m = np.zeros((h, w), np.uint8)
        for _ in range(rng.integers(1, 6)):
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            y1, x1 = rng.integers(y0, h + 1), rng.integers(x0, w + 1)
            m[y0:y1, x0:x1] ^= 1
        yield m


def main() -> None:
    exe = build(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror/cocodataset+cocoapi/repo")
    rng = np.random.default_rng(20261124)
    all_masks = list(masks(rng))
    payload = b"".join(np.array(m.shape, np.uint32).tobytes() + m.flatten(order="F").tobytes() for m in all_masks)
    out = subprocess.run([str(exe)], input=payload, check=True, capture_output=True).stdout.decode().split("\n")
    cases = [{"h": int(m.shape[0]), "w": int(m.shape[1]), "counts": runs(m), "string": s}
             for m, s in zip(all_masks, out)]
    OUT.write_text(json.dumps({
        "source": f"cocodataset/cocoapi@{COMMIT} common/maskApi.c rleEncode + rleToString",
        "cases": cases,
    }, indent=2) + "\n")
    if shutil.which("deno"):
        subprocess.run(["deno", "fmt", "--quiet", str(OUT)], check=True)
    print(f"{len(cases)} cases -> {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
