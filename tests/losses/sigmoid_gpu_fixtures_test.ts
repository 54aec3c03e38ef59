import { assertClose, gpuTest } from "../_util.ts";
import { loadFixture } from "./_fixtures.ts";
import { createLoss } from "../../losses/registry.ts";
import { Tensor } from "../../tensor/tensor.ts";

// float32 fixtures came from float32 torch; the kernel differs only in summation order and exp/log rounding.
const F32 = { rtol: 1e-5, atol: 1e-7 };

gpuTest("eqlv2 fused kernel matches the official float32 code through five steps with the state carried", async () => {
  const fx = loadFixture("eqlv2", "float32");
  const loss = createLoss("eqlv2", fx.params, { numClasses: fx.num_classes });
  try {
    for (const [s, st] of fx.steps.entries()) {
      const before = await loss.state();
      assertClose(before.ratio, st.state_before!.pos_neg, F32, `step ${s} ratio before`);
      const logits = Tensor.from(st.logits.flat(), [st.labels.length, fx.num_channels]);
      const out = loss.forward(logits, Int32Array.from(st.labels), { weights: true });
      assertClose([await out.loss.item()], [st.loss], F32, `step ${s} loss`);
      assertClose(await out.grad.toF32(), st.grad_logits.flat(), F32, `step ${s} grad`);
      assertClose(await out.weight!.toF32(), st.weight.flat(), F32, `step ${s} weight`);
      const after = await loss.state();
      assertClose(after.pos_grad, st.state_after!.pos_grad, F32, `step ${s} pos_grad after`);
      assertClose(after.neg_grad, st.state_after!.neg_grad, F32, `step ${s} neg_grad after`);
      assertClose(after.ratio, st.state_after!.pos_neg, F32, `step ${s} ratio after`);
      assertClose(await loss.scores(logits).toF32(), st.scores_test_with_obj!.flat(), F32, `step ${s} scores`);
      for (const t of [logits, out.loss, out.grad, out.weight!]) t.dispose();
    }
  } finally {
    loss.dispose();
  }
});

gpuTest("eql fused kernel matches the official float32 code, including frequencies equal to lambda", async () => {
  const fx = loadFixture("eql", "float32");
  const loss = createLoss("eql", { ...fx.params, freq_info: fx.freq_info }, { numClasses: fx.num_classes });
  try {
    for (const [s, st] of fx.steps.entries()) {
      const logits = Tensor.from(st.logits.flat(), [st.labels.length, fx.num_channels]);
      const labels = Tensor.from(st.labels, [st.labels.length], "i32");
      const out = loss.forward(logits, labels, { weights: true });
      assertClose([await out.loss.item()], [st.loss], F32, `step ${s} loss`);
      assertClose(await out.grad.toF32(), st.grad_logits.flat(), F32, `step ${s} grad`);
      assertClose(await out.weight!.toF32(), st.weight.flat(), F32, `step ${s} weight`);
      await loss.check();
      for (const t of [logits, labels, out.loss, out.grad, out.weight!]) t.dispose();
    }
  } finally {
    loss.dispose();
  }
});
