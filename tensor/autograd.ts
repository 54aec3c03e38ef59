/**
 * Reverse-mode autograd on the graph that ops record. Each op attaches a
 * `GradNode` to its output with the backward rule written next to its
 * forward; `backward()` walks the graph in reverse topological order and
 * accumulates gradients, into `.grad` for leaves that require them.
 */
import type { GradNode, Tensor } from "./tensor.ts";

let gradEnabled = true;

/** Whether ops currently record the graph. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run `fn` without recording (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Attach a backward rule to `out` if any input requires a gradient; returns `out`. */
export function record(out: Tensor, name: string, inputs: Tensor[], backward: GradNode["backward"]): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { name, inputs, backward };
  }
  return out;
}

/**
 * Accumulate d(root)/d(leaf) into every leaf's `.grad`. `add` sums two
 * gradients (injected to keep this module free of kernels); `seed` defaults
 * to ones of the root's shape via `ones`.
 */
export function backwardWith(
  root: Tensor,
  seed: Tensor,
  add: (a: Tensor, b: Tensor) => Tensor,
): void {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: graphs of deep nets overflow a recursive one.
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    if (i === 0) {
      if (seen.has(t)) {
        stack.pop();
        continue;
      }
      seen.add(t);
    }
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      if (inputs[i].requiresGrad && !seen.has(inputs[i])) stack.push([inputs[i], 0]);
    } else {
      stack.pop();
      order.push(t);
    }
  }
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    const g = grads.get(t);
    if (!g) continue;
    if (!t.node) {
      if (t.requiresGrad) {
        if (t.grad) {
          const sum = add(t.grad, g);
          t.grad.dispose();
          t.grad = sum.keep();
        } else {
          t.grad = g === seed ? g.keep() : g.keep();
        }
      }
      continue;
    }
    const gins = t.node.backward(g);
    t.node.inputs.forEach((inp, j) => {
      const gi = gins[j];
      if (!gi || !inp.requiresGrad) return;
      if (gi.shape.join() !== inp.shape.join()) {
        throw new Error(`Backward of ${t.node!.name} gave a gradient of shape [${gi.shape}] for input [${inp.shape}]`);
      }
      const prev = grads.get(inp);
      grads.set(inp, prev ? add(prev, gi) : gi);
    });
  }
}
