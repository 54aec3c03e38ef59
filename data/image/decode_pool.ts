// Each job goes to the worker with the fewest pending; with zero workers, jobs run here (sharp still decodes
// off the JS thread), the benchmark's baseline.
import { InputError } from "../../core/errors.ts";
import { decodeImage, normalizeToChw } from "./decode_image.ts";
import type { DecodeJob, DecodeReply } from "./_decode_protocol.ts";

type _Done = Extract<DecodeReply, { ok: true }>;

export class DecodePool {
  readonly #workers: Worker[] = [];
  readonly #pending: number[] = [];
  readonly #waiting = new Map<number, { resolve: (r: _Done) => void; reject: (e: Error) => void; worker: number }>();
  #nextId = 0;

  /** @param workers number of worker threads (0 = decode on this thread) */
  constructor(workers: number) {
    for (let w = 0; w < workers; w++) {
      const worker = new Worker(new URL("./_decode_worker.ts", import.meta.url), { type: "module" });
      worker.onmessage = (e: MessageEvent<DecodeReply>) => this.#settle(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        for (const [id, wait] of this.#waiting) {
          if (wait.worker === w) {
            this.#waiting.delete(id);
            wait.reject(new Error(`Decode worker failed: ${e.message}`));
          }
        }
      };
      this.#workers.push(worker);
      this.#pending.push(0);
    }
  }

  run(job: Omit<DecodeJob, "id">): Promise<_Done> {
    const id = this.#nextId++;
    if (this.#workers.length === 0) {
      return decodeImage(job.path, job.plan).then((img) => ({
        id,
        ok: true as const,
        pixels: normalizeToChw(img, job.normalization),
        width: img.width,
        height: img.height,
      }));
    }
    let w = 0;
    for (let k = 1; k < this.#pending.length; k++) if (this.#pending[k] < this.#pending[w]) w = k;
    this.#pending[w]++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject, worker: w });
      this.#workers[w].postMessage({ ...job, id } satisfies DecodeJob);
    });
  }

  #settle(reply: DecodeReply): void {
    const wait = this.#waiting.get(reply.id);
    if (!wait) return;
    this.#waiting.delete(reply.id);
    this.#pending[wait.worker]--;
    if (reply.ok) wait.resolve(reply);
    else wait.reject(new InputError(reply.message));
  }

  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers.length = 0;
  }
}
