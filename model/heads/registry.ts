/**
 * The detector's heads by kind. Each head registers its zod configuration
 * and a builder taking what the rest of the model fixes (channels, classes,
 * loss columns); the detector builds the ones its configuration names and
 * only composes them. A new head kind is a new file and one entry here.
 *
 * @example
 * ```ts
 * import { createHeads } from "./registry.ts";
 * const heads = createHeads({ rpn, boxHead, maskHead }, { channels: 256, numClasses: 80, columns: 81, classSpecific: true, clsBiasInit: 0 });
 * ```
 */
import { z } from "zod";
import { BoxHead, BoxHeadConfig } from "./box.ts";
import { MaskHead, MaskHeadConfig } from "./mask.ts";
import { RpnConfig, RpnHead } from "./rpn.ts";

export const RpnHeadConfig = z.discriminatedUnion("kind", [RpnConfig]);
export const BoxHeadKinds = z.discriminatedUnion("kind", [BoxHeadConfig]);
export const MaskHeadKinds = z.discriminatedUnion("kind", [MaskHeadConfig]);

/** What the heads' shapes depend on besides their own configuration. */
export interface HeadContext {
  /** Channels of every pyramid level. */
  channels: number;
  numClasses: number;
  /** The classification loss's logit columns. */
  columns: number;
  classSpecific: boolean;
  clsBiasInit: number;
}

/** The heads of one detector. */
export interface Heads {
  rpn: RpnHead;
  box: BoxHead;
  mask: MaskHead | null;
}

const RPN: Record<z.infer<typeof RpnHeadConfig>["kind"], (c: RpnConfig, x: HeadContext) => RpnHead> = {
  standard: (c, x) => new RpnHead(c, x.channels),
};
const BOX: Record<BoxHeadConfig["kind"], (c: BoxHeadConfig, x: HeadContext) => BoxHead> = {
  two_fc: (c, x) =>
    new BoxHead(c, {
      inChannels: x.channels,
      numClasses: x.numClasses,
      columns: x.columns,
      classSpecific: x.classSpecific,
      clsBiasInit: x.clsBiasInit,
    }),
};
const MASK: Record<MaskHeadConfig["kind"], (c: MaskHeadConfig, x: HeadContext) => MaskHead> = {
  fcn: (c, x) => new MaskHead(c, { inChannels: x.channels, numClasses: x.numClasses }),
};

/** Build the heads a configuration names. */
export function createHeads(
  cfg: { rpn: RpnConfig; boxHead: BoxHeadConfig; maskHead: MaskHeadConfig | null },
  ctx: HeadContext,
): Heads {
  return {
    rpn: RPN[cfg.rpn.kind](cfg.rpn, ctx),
    box: BOX[cfg.boxHead.kind](cfg.boxHead, ctx),
    mask: cfg.maskHead ? MASK[cfg.maskHead.kind](cfg.maskHead, ctx) : null,
  };
}
