"""PyTorch CPU reference for tailor's r50_fpn: torchvision 0.14's Mask R-CNN
ResNet-50-FPN (FrozenBatchNorm2d, three trainable stages, as built from
pretrained weights) timed on a training step or on inference. Prints one
JSON line: milliseconds per step (median of the steady steps), peak RSS.
Run with Debian's python3-torch and python3-torchvision:

    /usr/bin/python3 bench/torch_r50_step.py train 2 512 512 5   # batch 2 at 512 x 512, 5 steps
    /usr/bin/python3 bench/torch_r50_step.py infer 1 800 1333 3  # one image at 800 x 1333

Threads: 2 (torch.set_num_threads), as on the 2-core machine the figures come from. The
weights are the parity fixture's hash-derived ones (tests/model/fixtures/torchvision/generate.py),
which bench/r50_step.ts gives tailor too, and the learning rate is 0: both sides compute the
same function every step, so their proposals and sampled positives, and so their work, agree.
"""
import os
import json
import sys
import time

import torch
from torchvision.models import resnet50
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import misc as misc_nn_ops

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "model", "fixtures",
                                "torchvision"))
from generate import fill_weights  # noqa: E402  (the fixture's weight hash)


# Boxes as fractions of the image (x1, y1, x2, y2), as bench/r50_step.ts draws them; classes 1, 3, 5, 2, 4, 1.
BOXES = [[0.05, 0.1, 0.4, 0.55], [0.3, 0.3, 0.65, 0.85], [0.5, 0.05, 0.9, 0.45],
         [0.1, 0.6, 0.3, 0.95], [0.6, 0.5, 0.95, 0.75], [0.7, 0.8, 0.85, 0.95]]


def targets_for(b, h, w):
    """Six boxes with inscribed elliptical masks."""
    boxes = torch.tensor([[x1 * w + 5 * b, y1 * h, x2 * w + 5 * b, y2 * h] for x1, y1, x2, y2 in BOXES])
    yy, xx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    masks = []
    for x1, y1, x2, y2 in boxes.tolist():
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
        masks.append((((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1).to(torch.uint8))
    return {"boxes": boxes, "labels": torch.tensor([1, 3, 5, 2, 4, 1]), "masks": torch.stack(masks)}


def peak_rss_mb():
    """VmHWM of this process (getrusage's maxrss would include the parent's when it spawned this one)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024)
    return None


def main():
    mode, batch, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    steps = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    torch.set_num_threads(2)
    torch.manual_seed(0)
    backbone = _resnet_fpn_extractor(resnet50(weights=None, norm_layer=misc_nn_ops.FrozenBatchNorm2d), 3)
    model = MaskRCNN(backbone, num_classes=6, box_score_thresh=0.0001, box_detections_per_img=300)
    with torch.no_grad():
        fill_weights(model)
    gen = torch.Generator().manual_seed(3)
    images = ImageList(torch.rand(batch, 3, h, w, generator=gen) * 4 - 2, [(h, w)] * batch)
    times = []
    if mode == "train":
        model.train()
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.0, momentum=0.9,
                              weight_decay=1e-4)
        targets = [targets_for(b, h, w) for b in range(batch)]
        select, counted = model.roi_heads.select_training_samples, {}

        def counting_select(proposals, targets_):
            out = select(proposals, targets_)
            counted["positives"] = int(sum((labels > 0).sum() for labels in out[2]))
            return out

        model.roi_heads.select_training_samples = counting_select
        for _ in range(steps):
            t0 = time.perf_counter()
            features = model.backbone(images.tensors)
            proposals, rpn_losses = model.rpn(images, features, targets)
            _, roi_losses = model.roi_heads(features, proposals, images.image_sizes, targets)
            loss = sum(rpn_losses.values()) + sum(roi_losses.values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append((time.perf_counter() - t0) * 1000)
    else:
        model.eval()
        with torch.no_grad():
            for _ in range(steps):
                t0 = time.perf_counter()
                features = model.backbone(images.tensors)
                proposals, _ = model.rpn(images, features)
                detections, _ = model.roi_heads(features, proposals, images.image_sizes)
                model.transform.postprocess(detections, images.image_sizes, images.image_sizes)
                times.append((time.perf_counter() - t0) * 1000)
    steady = sorted(times[1:] if len(times) > 1 else times)
    print(json.dumps({
        "impl": f"torch {torch.__version__} CPU, {torch.get_num_threads()} threads",
        "mode": mode, "batch": batch, "height": h, "width": w, "steps": len(times),
        "ms": round(steady[len(steady) // 2], 1), "all_ms": [round(t, 1) for t in times],
        **({"positives": counted["positives"]} if mode == "train" else {}),
        "peak_rss_mb": peak_rss_mb(),
    }))


if __name__ == "__main__":
    main()
