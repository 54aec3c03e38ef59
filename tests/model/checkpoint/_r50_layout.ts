/**
 * torchvision 0.14's `maskrcnn_resnet50_fpn` parameters (frozen batch norm,
 * as built for pretrained weights) written out in TypeScript: name -> shape.
 * load_test.ts checks it against the list torch printed
 * (fixtures/checkpoint/maskrcnn_r50_fpn_keys.json).
 */
export function maskRcnnR50Layout(classesWithBackground = 91): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const bn = (p: string, c: number) => {
    for (const s of ["weight", "bias", "running_mean", "running_var"]) m.set(`${p}.${s}`, [c]);
  };
  const conv = (p: string, shape: number[], bias: boolean) => {
    m.set(`${p}.weight`, shape);
    if (bias) m.set(`${p}.bias`, [shape[0]]);
  };
  const body = "backbone.body.";
  conv(`${body}conv1`, [64, 3, 7, 7], false);
  bn(`${body}bn1`, 64);
  let cin = 64;
  [[3, 64], [4, 128], [6, 256], [3, 512]].forEach(([blocks, w], stage) => {
    for (let b = 0; b < blocks; b++) {
      const p = `${body}layer${stage + 1}.${b}.`;
      conv(`${p}conv1`, [w, cin, 1, 1], false);
      bn(`${p}bn1`, w);
      conv(`${p}conv2`, [w, w, 3, 3], false);
      bn(`${p}bn2`, w);
      conv(`${p}conv3`, [4 * w, w, 1, 1], false);
      bn(`${p}bn3`, 4 * w);
      if (b === 0) {
        conv(`${p}downsample.0`, [4 * w, cin, 1, 1], false);
        bn(`${p}downsample.1`, 4 * w);
      }
      cin = 4 * w;
    }
  });
  for (let i = 0; i < 4; i++) conv(`backbone.fpn.inner_blocks.${i}.0`, [256, 256 << i, 1, 1], true);
  for (let i = 0; i < 4; i++) conv(`backbone.fpn.layer_blocks.${i}.0`, [256, 256, 3, 3], true);
  conv("rpn.head.conv.0.0", [256, 256, 3, 3], true);
  conv("rpn.head.cls_logits", [3, 256, 1, 1], true);
  conv("rpn.head.bbox_pred", [12, 256, 1, 1], true);
  conv("roi_heads.box_head.fc6", [1024, 256 * 7 * 7], true);
  conv("roi_heads.box_head.fc7", [1024, 1024], true);
  conv("roi_heads.box_predictor.cls_score", [classesWithBackground, 1024], true);
  conv("roi_heads.box_predictor.bbox_pred", [4 * classesWithBackground, 1024], true);
  for (let i = 0; i < 4; i++) conv(`roi_heads.mask_head.${i}.0`, [256, 256, 3, 3], true);
  conv("roi_heads.mask_predictor.conv5_mask", [256, 256, 2, 2], true);
  conv("roi_heads.mask_predictor.mask_fcn_logits", [classesWithBackground, 256, 1, 1], true);
  return m;
}
