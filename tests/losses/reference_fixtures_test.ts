import { assertClose } from "../_util.ts";
import { loadFixture } from "./_fixtures.ts";
import { parseLossParams } from "../../losses/registry.ts";
import { createReferenceLoss } from "../../losses/reference_loss.ts";
import type { LossStats64 } from "../../losses/reference_sigmoid.ts";
import { eqlv2ChannelWeights } from "../../losses/eqlv2.ts";
import { eqlRareMask } from "../../losses/eql.ts";

const EXACT = { rtol: 1e-12, atol: 1e-300 };

Deno.test("eqlv2 float64 reference matches the official code through five steps with the state carried", () => {
  const fx = loadFixture("eqlv2", "float64");
  const params = parseLossParams("eqlv2", fx.params);
  const ref = createReferenceLoss("eqlv2", fx.params, { numClasses: fx.num_classes });
  const state = ref.state as LossStats64;
  assertClose(state.ratio, fx.initial_state!.pos_neg, EXACT, "initial ratio");
  for (const [s, st] of fx.steps.entries()) {
    assertClose(state.pos_grad, st.state_before!.pos_grad, EXACT, `step ${s} pos_grad before`);
    assertClose(state.ratio, st.state_before!.pos_neg, EXACT, `step ${s} ratio before`);
    const w = eqlv2ChannelWeights(params, fx.num_classes, state.ratio);
    assertClose(w.pos, st.pos_w_per_channel!, EXACT, `step ${s} pos_w`);
    assertClose(w.neg, st.neg_w_per_channel!, EXACT, `step ${s} neg_w`);
    const out = ref.step({ logits: st.logits.flat(), labels: st.labels });
    assertClose([out.loss], [st.loss], EXACT, `step ${s} loss`);
    assertClose(out.weight, st.weight.flat(), EXACT, `step ${s} weight`);
    assertClose(out.grad, st.grad_logits.flat(), { rtol: 1e-12, atol: 1e-18 }, `step ${s} grad`);
    assertClose(state.pos_grad, st.state_after!.pos_grad, EXACT, `step ${s} pos_grad after`);
    assertClose(state.neg_grad, st.state_after!.neg_grad, EXACT, `step ${s} neg_grad after`);
    assertClose(state.ratio, st.state_after!.pos_neg, EXACT, `step ${s} ratio after`);
    const logits = st.logits.flat();
    assertClose(ref.scores(logits), st.scores_test_with_obj!.flat(), EXACT, `step ${s} scores`);
    const plain = createReferenceLoss("eqlv2", { ...fx.params, test_with_obj: false }, { numClasses: 8 });
    assertClose(plain.scores(logits), st.scores_test_without_obj!.flat(), EXACT, `step ${s} raw`);
  }
});

Deno.test("eql float64 reference matches the official code, including frequencies equal to lambda", () => {
  const fx = loadFixture("eql", "float64");
  const raw = { ...fx.params, freq_info: fx.freq_info };
  const rare = eqlRareMask(parseLossParams("eql", raw), fx.num_classes);
  const ref = createReferenceLoss("eql", raw, { numClasses: fx.num_classes });
  for (const [s, st] of fx.steps.entries()) {
    assertClose(rare, st.threshold_per_class!, EXACT, "threshold");
    const out = ref.step({ logits: st.logits.flat(), labels: st.labels });
    assertClose([out.loss], [st.loss], EXACT, `step ${s} loss`);
    assertClose(out.weight, st.weight.flat(), EXACT, `step ${s} weight`);
    assertClose(out.grad, st.grad_logits.flat(), { rtol: 1e-12, atol: 1e-18 }, `step ${s} grad`);
  }
});
