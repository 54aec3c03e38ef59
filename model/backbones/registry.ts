/** Backbones by kind: each registers a zod config and a builder; `backbone.kind` picks one. */
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

export function createBackbone(cfg: BackboneConfig): Backbone {
  return (BUILDERS[cfg.kind] as (c: BackboneConfig) => Backbone)(cfg);
}
