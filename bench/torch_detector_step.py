"""PyTorch CPU reference for tailor's detector training step.

The same architecture as model/ (ResNet-style backbone with group norm,
optional two-level FPN, RPN head, RoIAlign, 2-FC box head with C+1 sigmoid
logits, class-agnostic box deltas), the same batch and sampling sizes, and
one SGD step; targets are random but shaped as in training. Prints ms per
step. Run with Debian's python3-torch and python3-torchvision:

    OMP_NUM_THREADS=2 /usr/bin/python3 bench/torch_detector_step.py small 4 128
"""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import roi_align

PRESETS = {
    "tiny": dict(widths=[16, 32, 64], blocks=[1, 1], groups=4, fpn=False, feat=64, pool=5, rois=64, fc=128),
    "small": dict(widths=[16, 32, 64, 96], blocks=[1, 1, 1], groups=8, fpn=True, feat=64, pool=5, rois=128, fc=256),
}


def conv_gn(cin, cout, k, stride, groups):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, bias=False), nn.GroupNorm(groups, cout))


class Block(nn.Module):
    def __init__(self, cin, cout, stride, groups):
        super().__init__()
        self.c1 = conv_gn(cin, cout, 3, stride, groups)
        self.c2 = conv_gn(cout, cout, 3, 1, groups)
        self.down = None if stride == 1 and cin == cout else conv_gn(cin, cout, 1, stride, groups)

    def forward(self, x):
        y = self.c2(F.relu(self.c1(x)))
        return F.relu(y + (x if self.down is None else self.down(x)))


class Detector(nn.Module):
    def __init__(self, p, num_classes, anchors):
        super().__init__()
        w, g = p["widths"], p["groups"]
        self.p = p
        self.stem = conv_gn(3, w[0], 3, 2, g)
        self.stages = nn.ModuleList()
        for s, n in enumerate(p["blocks"]):
            self.stages.append(nn.Sequential(*[Block(w[s] if b == 0 else w[s + 1], w[s + 1], 2 if b == 0 else 1, g) for b in range(n)]))
        f = p["feat"]
        if p["fpn"]:
            self.lat_c = nn.Conv2d(w[-1], f, 1)
            self.lat_f = nn.Conv2d(w[-2], f, 1)
            self.out = nn.Conv2d(f, f, 3, padding=1)
        else:
            self.proj = None if w[-1] == f else nn.Conv2d(w[-1], f, 1)
        self.rpn = nn.Conv2d(f, f, 3, padding=1)
        self.obj = nn.Conv2d(f, anchors, 1)
        self.dl = nn.Conv2d(f, 4 * anchors, 1)
        self.fc1 = nn.Linear(f * p["pool"] ** 2, p["fc"])
        self.fc2 = nn.Linear(p["fc"], p["fc"])
        self.cls = nn.Linear(p["fc"], num_classes + 1)
        self.box = nn.Linear(p["fc"], 4)

    def features(self, x):
        x = F.relu(self.stem(x))
        outs = []
        for st in self.stages:
            x = st(x)
            outs.append(x)
        if self.p["fpn"]:
            return self.out(self.lat_f(outs[-2]) + F.interpolate(self.lat_c(outs[-1]), scale_factor=2, mode="nearest"))
        return x if self.proj is None else self.proj(x)


def main():
    preset = sys.argv[1] if len(sys.argv) > 1 else "small"
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    classes = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    torch.manual_seed(0)
    p = PRESETS[preset]
    A = 9 if preset == "tiny" else 12
    model = Detector(p, classes, A)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    stride = 8
    x = torch.randn(batch, 3, size, size)
    R = p["rois"] * batch
    times = []
    for it in range(8):
        t0 = time.perf_counter()
        feat = model.features(x)
        h = F.relu(model.rpn(feat))
        obj, dl = model.obj(h), model.dl(h)
        w_obj = (torch.rand_like(obj) < 256 / obj[0].numel()).float()
        rpn_cls = (F.binary_cross_entropy_with_logits(obj, (torch.rand_like(obj) < 0.3).float(), reduction="none") * w_obj).sum() / (batch * 256)
        rpn_box = (F.smooth_l1_loss(dl, torch.randn_like(dl) * 0.1, reduction="none", beta=1 / 9) * w_obj.repeat(1, 4, 1, 1)).sum() / (batch * 256)
        xy = torch.rand(R, 2) * (size - 24)
        wh = 8 + torch.rand(R, 2) * 40
        rois = torch.cat([torch.arange(batch).repeat_interleave(p["rois"]).float()[:, None], xy, (xy + wh).clamp(max=size)], 1)
        pooled = roi_align(feat, rois, p["pool"], spatial_scale=1 / stride, sampling_ratio=2, aligned=True)
        z = F.relu(model.fc2(F.relu(model.fc1(pooled.flatten(1)))))
        logits, deltas = model.cls(z), model.box(z)
        labels = torch.randint(0, classes + 1, (R,))
        target = F.one_hot(labels, classes + 1).float()
        cls = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / R
        box = F.l1_loss(deltas, torch.randn_like(deltas), reduction="sum") / R
        loss = rpn_cls + rpn_box + cls + box
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append((time.perf_counter() - t0) * 1000)
    steady = sorted(times[2:])[len(times[2:]) // 2]
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} preset={preset} batch={batch} size={size} "
          f"ms/step={steady:.1f} images/s={batch / steady * 1000:.1f}")


if __name__ == "__main__":
    main()
