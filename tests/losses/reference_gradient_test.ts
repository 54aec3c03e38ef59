import { assertClose, numericGrad, rng } from "../_util.ts";
import { paramsFor, randomLabels } from "./_cases.ts";
import { createReferenceLoss } from "../../losses/reference_loss.ts";
import { lossNames } from "../../losses/registry.ts";

for (const [k, name] of lossNames.entries()) {
  Deno.test(`${name} float64 reference gradient matches central finite differences`, () => {
    const r = rng(300 + k);
    const c = 6, rows = 7;
    // Seesaw's compensation is detached from the graph (as in mmdetection): check with q = 0.
    const params = { ...paramsFor(name, c, r), ...(name === "seesaw" ? { q: 0 } : {}) };
    const ref = createReferenceLoss(name, params, { numClasses: c });
    const labels = randomLabels(r, rows, c, 0.4);
    const logits = Float64Array.from({ length: rows * ref.columns }, () => r.uniform(-3, 3) || 0.5);
    // Two steps first, so that stateful losses weight with a non-trivial state.
    ref.step({ logits, labels });
    ref.step({ logits, labels });
    const snapshot = structuredClone(ref.state);
    const restore = () => {
      for (const [key, v] of Object.entries(snapshot)) {
        (ref.state as unknown as Record<string, Float64Array>)[key].set(v);
      }
    };
    const sampled = name === "federated" || name === "bags";
    const fedLoss = sampled ? createReferenceLoss(name, params, { numClasses: c }) : null;
    const f = (x: Float64Array) => {
      restore();
      // The federated and BAGS samplers draw afresh each step: replay the same draw.
      if (fedLoss) return createReferenceLoss(name, params, { numClasses: c }).step({ logits: x, labels }).loss;
      return ref.step({ logits: x, labels }).loss;
    };
    restore();
    const analytic = fedLoss ? fedLoss.step({ logits, labels }).grad : ref.step({ logits, labels }).grad;
    // Central differences with eps 1e-6 err by about eps^2 * f''' / 6: up to ~1e-8 where EFL's focusing
    // exponent reaches 10, so the absolute tolerance sits there; float64 round-off adds ~1e-10.
    assertClose(analytic, numericGrad(f, logits, 1e-6), { rtol: 1e-6, atol: 1e-8 }, `${name} grad`);
  });
}
