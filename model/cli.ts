/**
 * `deno task model export`: weights as torchvision-named safetensors for `load_state_dict(strict=True)`.
 * @example
 * ```sh
 * deno task model export --weights epoch_12.pth --out eqlv2_r50.safetensors   # e.g. an mmdetection checkpoint
 * deno task model export --model runs/demo/stages/train_eqlv2 --out demo.safetensors
 * ```
 */
import { Command } from "@commander-js/extra-typings";
import { InputError } from "../core/errors.ts";
import { exportTorchvision } from "./checkpoint/export.ts";

export function buildModelProgram(): Command {
  const program = new Command("model").description("Model weights in and out").showHelpAfterError();
  program.command("export").description("Write weights as torchvision-named float32 safetensors")
    .option("--model <dir>", "a train stage's model folder (model.json + weights.safetensors)")
    .option(
      "--weights <file>",
      "a .pth or safetensors weights file (torchvision, mmdetection or ImageNet ResNet names)",
    )
    .requiredOption("--out <file>", "the safetensors file to write (replaced only once complete)")
    .action(async (opts) => {
      if (!opts.model === !opts.weights) throw new InputError("Give exactly one of --model DIR and --weights FILE");
      const r = await exportTorchvision(opts.model ? { model: opts.model } : { weights: opts.weights! }, opts.out);
      const names = r.torchvision ? "torchvision names" : "tailor names (this preset has no torchvision counterpart)";
      console.log(`${opts.out}: ${r.tensors} float32 tensors, read as ${r.naming} names, written with ${names}`);
    });
  return program;
}

if (import.meta.main) {
  try {
    await buildModelProgram().parseAsync(Deno.args, { from: "user" });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    console.error(`error: ${message.split("\n")[0]}`);
    if (!(e instanceof InputError) && Deno.env.get("TAILOR_DEBUG")) console.error(e);
    Deno.exit(1);
  }
}
