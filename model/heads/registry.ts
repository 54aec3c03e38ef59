/**
 * Heads by kind: each registers a zod config and a builder taking channels, classes and loss columns.
 * A new head kind is a new file and one entry here.
 */
import { z } from "zod";
import { BoxHead, BoxHeadConfig } from "./box.ts";
import { MaskHead, MaskHeadConfig } from "./mask.ts";
import { RpnConfig, RpnHead } from "./rpn.ts";

export const RpnHeadConfig = z.discriminatedUnion("kind", [RpnConfig]);
export const BoxHeadKinds = z.discriminatedUnion("kind", [BoxHeadConfig]);
export const MaskHeadKinds = z.discriminatedUnion("kind", [MaskHeadConfig]);

export interface HeadContext {
  channels: number;
  numClasses: number;
  /** The classification loss's logit columns. */
  columns: number;
  classSpecific: boolean;
  clsBiasInit: number;
}

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
