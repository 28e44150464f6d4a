"""PyTorch reference of the probe network's training step (src/models/probe_net.ts, src/train/probe.ts).

Same layers, shapes, loss (L1 reconstruction) and optimiser (Adam, lr 1e-3, betas (0.5, 0.999)), so
seconds per step compare directly with `npm run bench`. Run with Debian's python3-torch:

    /usr/bin/python3 bench/reference/probe_torch.py --res 128 --batch 4 --channels 16 --runs 5 --threads 2

Prints one line: RESULT {"secondsPerStep": ..., "min": ..., "max": ..., "peakRssMB": ...}
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

from timing import report


class Attention(nn.Module):
    """SAGAN self-attention as in src/models/layers.ts (gamma starts at 0.1 in the probe net)."""

    def __init__(self, c):
        super().__init__()
        self.f = nn.Conv2d(c, max(1, c // 8), 1)
        self.g = nn.Conv2d(c, max(1, c // 8), 1)
        self.h = nn.Conv2d(c, max(1, c // 2), 1)
        self.o = nn.Conv2d(max(1, c // 2), c, 1)
        self.gamma = nn.Parameter(torch.full((1,), 0.1))

    def forward(self, x):
        b, c, h, w = x.shape
        f = self.f(x).flatten(2).transpose(1, 2)  # [B, N, C/8]
        g = self.g(x).flatten(2).transpose(1, 2)
        v = self.h(x).flatten(2).transpose(1, 2)  # [B, N, C/2]
        a = torch.softmax(f @ g.transpose(1, 2), dim=-1)
        o = (a @ v).transpose(1, 2).reshape(b, -1, h, w)
        return x + self.gamma * self.o(o)


class ProbeNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 9, padding=4)
        self.d1_conv = nn.Conv2d(c, c, 3, padding=1)
        self.d1_strided = nn.Conv2d(c, 2 * c, 4, stride=2, padding=1)  # TF 'same' for k4 s2 on even sizes
        self.d1_skip = nn.Conv2d(c, 2 * c, 1)
        self.d2_norm1 = nn.InstanceNorm2d(2 * c, affine=True, eps=1e-5)
        self.d2_conv1 = nn.Conv2d(2 * c, 4 * c, 3, padding=1)
        self.d2_norm2 = nn.InstanceNorm2d(4 * c, affine=True, eps=1e-5)
        self.d2_conv2 = nn.Conv2d(4 * c, 4 * c, 3, padding=1)
        self.d2_skip = nn.Conv2d(2 * c, 4 * c, 1)
        self.attn = Attention(4 * c)
        self.u1_norm = nn.InstanceNorm2d(4 * c, affine=True, eps=1e-5)
        self.u1_conv = nn.Conv2d(4 * c, 2 * c, 3, padding=1)
        self.u1_skip = nn.Conv2d(4 * c, 2 * c, 1)
        self.u2_norm = nn.InstanceNorm2d(2 * c, affine=True, eps=1e-5)
        self.u2_conv = nn.Conv2d(2 * c, c, 3, padding=1)
        self.u2_skip = nn.Conv2d(2 * c, c, 1)
        self.out = nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, x):
        h = self.stem(x)
        m = self.d1_strided(F.relu(self.d1_conv(F.relu(h))))
        h = m + self.d1_skip(F.avg_pool2d(h, 2))
        m = self.d2_conv1(F.relu(self.d2_norm1(h)))
        m = self.d2_conv2(F.relu(self.d2_norm2(m)))
        h = F.avg_pool2d(m, 2) + F.avg_pool2d(self.d2_skip(h), 2)
        h = self.attn(h)
        for norm, conv, skip, mode in ((self.u1_norm, self.u1_conv, self.u1_skip, 'nearest'), (self.u2_norm, self.u2_conv, self.u2_skip, 'bilinear')):
            up = (lambda t: F.interpolate(t, scale_factor=2, mode='nearest')) if mode == 'nearest' else (
                lambda t: F.interpolate(t, scale_factor=2, mode='bilinear', align_corners=False))
            h = conv(up(F.relu(norm(h)))) + skip(up(h))
        return torch.tanh(self.out(F.relu(h)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--res', type=int, default=64)
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--channels', type=int, default=16)
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.manual_seed(1)
    torch.set_num_threads(a.threads)
    net = ProbeNet(a.channels)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
    x = torch.rand(a.batch, 3, a.res, a.res) * 2 - 1

    def step():
        opt.zero_grad(set_to_none=True)
        loss = (net(x) - x).abs().mean()
        loss.backward()
        opt.step()
        return loss.item()

    report(step, a.runs, a.warmup)


if __name__ == '__main__':
    main()
