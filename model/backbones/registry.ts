/**
 * Backbones by kind: each registers its zod configuration and a builder,
 * and the detector's configuration picks one with `backbone.kind`.
 *
 * @example
 * ```ts
 * import { BackboneConfig, createBackbone } from "./registry.ts";
 * const body = createBackbone(BackboneConfig.parse({ kind: "resnet", depth: 50, trainableLayers: 3 }));
 * ```
 */
import { z } from "zod";
import type { Backbone } from "./backbone.ts";
import { GnResNet, GnResNetConfig } from "./gn_resnet.ts";
import { ResNet, ResNetConfig } from "./resnet.ts";

export const BackboneConfig = z.discriminatedUnion("kind", [ResNetConfig, GnResNetConfig]);
export type BackboneConfig = z.infer<typeof BackboneConfig>;

const BUILDERS: { [K in BackboneConfig["kind"]]: (cfg: Extract<BackboneConfig, { kind: K }>) => Backbone } = {
  resnet: (cfg) => new ResNet(cfg),
  gn_resnet: (cfg) => new GnResNet(cfg),
};

/** The backbone a configuration describes. */
export function createBackbone(cfg: BackboneConfig): Backbone {
  return (BUILDERS[cfg.kind] as (c: BackboneConfig) => Backbone)(cfg);
}
