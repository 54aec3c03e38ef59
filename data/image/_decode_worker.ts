// Decode, resize, flip and normalise one image per message; the floats go back without copying.
/// <reference lib="deno.worker" />
import sharp from "sharp";
import { decodeImage, normalizeToChw } from "./decode_image.ts";
import type { DecodeJob, DecodeReply } from "./_decode_protocol.ts";

// One libvips thread per worker: the workers are the parallelism.
sharp.concurrency(1);

self.onmessage = async (e: MessageEvent<DecodeJob>) => {
  const job = e.data;
  let reply: DecodeReply;
  try {
    const img = await decodeImage(job.path, job.plan);
    const pixels = normalizeToChw(img, job.normalization);
    reply = { id: job.id, ok: true, pixels, width: img.width, height: img.height };
    self.postMessage(reply, [pixels.buffer]);
  } catch (err) {
    reply = { id: job.id, ok: false, message: (err as Error).message };
    self.postMessage(reply);
  }
};
