import { handleTask, type WorkerTask } from "./worker_tasks.ts";

const scope = self as unknown as {
  onmessage: (e: MessageEvent<WorkerTask>) => void;
  postMessage(m: unknown): void;
};
scope.onmessage = (e) => scope.postMessage(handleTask(e.data));
