/** Reverse-mode autograd: each op records its backward beside its forward; `backward()` walks the graph. */
import type { GradNode, Tensor } from "./tensor.ts";

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function record(out: Tensor, name: string, inputs: Tensor[], backward: GradNode["backward"]): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { name, inputs, backward };
  }
  return out;
}

export interface BackwardOptions {
  /** Dispose each intermediate once its backward ran; reading one afterwards is an error. */
  releaseGraph?: boolean;
}

/** Injected kernels, to keep this module free of them. */
export interface GradientMath {
  add(a: Tensor, b: Tensor): Tensor;
  copy(x: Tensor): Tensor;
}

/** A leaf's gradient always owns its buffer (a view is copied), so it outlives the graph. */
export function backwardWith(root: Tensor, seed: Tensor, math: GradientMath, opts: BackwardOptions = {}): void {
  const add = math.add;
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
  const refs = new Map<Tensor, number>();
  const owner = (x: Tensor) => x.base ?? x;
  const hold = (x: Tensor) => refs.set(owner(x), (refs.get(owner(x)) ?? 0) + 1);
  const drop = (x: Tensor) => {
    const o = owner(x), n = (refs.get(o) ?? 0) - 1;
    if (n > 0) return void refs.set(o, n);
    refs.delete(o);
    if (x !== seed && o !== seed && !o.kept) o.dispose();
  };
  hold(seed);
  for (let k = order.length - 1; k >= 0; k--) {
    const t = order[k];
    const g = grads.get(t);
    if (!g) continue;
    grads.delete(t);
    if (!t.node) {
      if (t.requiresGrad) {
        if (t.grad) {
          const sum = add(t.grad, g);
          t.grad.dispose();
          t.grad = sum.keep();
          drop(g);
        } else if (g.base || (refs.get(g) ?? 0) > 1 || g === seed) {
          // A view, or a gradient that other inputs share: the leaf gets its own copy.
          t.grad = math.copy(g).keep();
          drop(g);
        } else {
          refs.delete(g);
          t.grad = g.keep();
        }
      }
      continue;
    }
    const gins = t.node.backward(g);
    t.node.inputs.forEach((inp, j) => {
      const gi = gins[j];
      if (!gi) return;
      hold(gi);
      if (!inp.requiresGrad) return drop(gi);
      if (gi.shape.join() !== inp.shape.join()) {
        throw new Error(`Backward of ${t.node!.name} gave a gradient of shape [${gi.shape}] for input [${inp.shape}]`);
      }
      const prev = grads.get(inp);
      if (!prev) return void grads.set(inp, gi);
      const sum = add(prev, gi);
      hold(sum);
      grads.set(inp, sum);
      drop(prev);
      drop(gi);
    });
    drop(g);
    if (opts.releaseGraph && t !== root && !t.kept) {
      t.node = null;
      t.dispose();
    }
  }
}
