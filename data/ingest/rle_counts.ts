// RLE runs must cover exactly height x width: pycocotools decodes past its buffer, or stops short, when they do not.
import { decodeRle, type Rle } from "../../eval/rle.ts";

export type RleCheck = { ok: true; rle: Rle } | { ok: false; kind: string; detail: string };

/** Read `{ size: [h, w], counts }` (a list or COCO's compressed string), checked. */
export function checkRle(seg: { size: [number, number]; counts: string | number[] }): RleCheck {
  const [h, w] = seg.size;
  let counts: Uint32Array;
  if (typeof seg.counts === "string") {
    const s = seg.counts;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      // Characters 48-111 carry 6 bits; the last one of a string must not ask for more.
      if (c < 48 || c > 111 || (i === s.length - 1 && ((c - 48) & 0x20) !== 0)) {
        const detail = `not a compressed RLE string: character ${i} ${JSON.stringify(s[i])}`;
        return { ok: false, kind: "malformed RLE counts", detail };
      }
    }
    counts = decodeRle({ size: [h, w], counts: s }).counts;
  } else counts = Uint32Array.from(seg.counts);
  let sum = 0;
  for (let j = 0; j < counts.length; j++) sum += counts[j];
  // A compressed string can also decode to negative runs (stored wrapped): they break the sum too.
  if (sum !== h * w) {
    return {
      ok: false,
      kind: "RLE counts do not sum to height x width",
      detail: `its counts sum to ${sum}, expected ${h}x${w} = ${h * w}`,
    };
  }
  return { ok: true, rle: { h, w, counts } };
}
