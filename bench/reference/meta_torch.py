"""PyTorch reference of one meta-learning step (src/train/meta_step.ts, src/models/networks.ts).

Same networks (spectral norm on every conv, residual blocks, AdaIN from P e, attention, projection
discriminator), same losses (pixel L1 x10, -D(x_hat), feature matching x10, L_MCH x80, hinge) and
the same optimisation (E+G update, then two D updates; Adam lr 5e-5 / 2e-4, betas (0, 0.9)).
Run with Debian's python3-torch:

    /usr/bin/python3 bench/reference/meta_torch.py --config '<NetConfig JSON>' --batch 2 --k 8 --runs 3

Prints one line: RESULT {"secondsPerStep": ..., "min": ..., "max": ..., "peakRssMB": ...}
"""
import argparse
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from timing import report

SN = nn.utils.spectral_norm


def conv(ci, co, k):
    return SN(nn.Conv2d(ci, co, k, padding=k // 2))


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.f, self.g = conv(c, max(1, c // 8), 1), conv(c, max(1, c // 8), 1)
        self.h, self.o = conv(c, max(1, c // 2), 1), conv(max(1, c // 2), c, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        b, c, h, w = x.shape
        f = self.f(x).flatten(2).transpose(1, 2)
        g = self.g(x).flatten(2).transpose(1, 2)
        v = self.h(x).flatten(2).transpose(1, 2)
        a = torch.softmax(f @ g.transpose(1, 2), dim=-1)
        return x + self.gamma * self.o((a @ v).transpose(1, 2).reshape(b, -1, h, w))


class ResDown(nn.Module):
    def __init__(self, ci, co, k=3, norm=False):
        super().__init__()
        self.c1, self.c2, self.skip = conv(ci, co, k), conv(co, co, k), conv(ci, co, 1)
        self.n1 = nn.InstanceNorm2d(ci, affine=True) if norm else None
        self.n2 = nn.InstanceNorm2d(co, affine=True) if norm else None

    def forward(self, x, first):
        h = self.n1(x) if self.n1 else x
        if not first:
            h = F.relu(h)
        h = self.c1(h)
        h = self.c2(F.relu(self.n2(h) if self.n2 else h))
        return F.avg_pool2d(h, 2) + F.avg_pool2d(self.skip(x), 2)


def adain(x, psi, off):
    c = x.shape[1]
    mean = psi[:, off:off + c, None, None]
    scale = 1 + psi[:, off + c:off + 2 * c, None, None]
    return F.instance_norm(x, eps=1e-5) * scale + mean


class ResAdain(nn.Module):
    def __init__(self, ci, co):
        super().__init__()
        self.c1, self.c2 = conv(ci, co, 3), conv(co, co, 3)
        self.skip = conv(ci, co, 1) if ci != co else None

    def forward(self, x, psi, o1, o2, up):
        h = F.relu(adain(x, psi, o1))
        if up:
            h = F.interpolate(h, scale_factor=2, mode='nearest')
        h = self.c2(F.relu(adain(self.c1(h), psi, o2)))
        s = F.interpolate(x, scale_factor=2, mode='nearest') if up else x
        return h + (self.skip(s) if self.skip else s)


class Embedder(nn.Module):
    def __init__(self, c):
        super().__init__()
        chans = [6] + c['downChannels']
        self.downs = nn.ModuleList([ResDown(chans[i], chans[i + 1]) for i in range(len(c['downChannels']))])
        self.att_at, self.attn = c['downAttention'], Attention(chans[c['downAttention'] + 1])
        self.out = conv(chans[-1], c['embedding'], 1) if chans[-1] != c['embedding'] else None

    def forward(self, x, y, features=None):
        h = torch.cat([x, y], 1)
        for i, d in enumerate(self.downs):
            h = d(h, i == 0)
            if i == self.att_at:
                h = self.attn(h)
            if features is not None:
                features.append(h)
        return h


class Generator(nn.Module):
    def __init__(self, c):
        super().__init__()
        enc = [3] + c['encoderChannels']
        self.enc = nn.ModuleList([ResDown(enc[i], enc[i + 1], 9 if i == 0 else 3, norm=True) for i in range(len(c['encoderChannels']))])
        self.enc_att_at, self.enc_attn = c['encoderAttention'], Attention(enc[c['encoderAttention'] + 1])
        b = enc[-1]
        self.res = nn.ModuleList([ResAdain(b, b) for _ in range(c['resBlocks'])])
        dec = [b] + c['decoderChannels']
        self.ups = nn.ModuleList([ResAdain(dec[i], dec[i + 1]) for i in range(len(c['decoderChannels']))])
        self.dec_att_at, self.dec_attn = c['decoderAttention'], Attention(dec[c['decoderAttention'] + 1])
        self.out = conv(dec[-1], 3, 3)
        self.slots = []  # (offset a1, offset a2) per block, then the final one
        off = 0
        for _ in range(c['resBlocks']):
            self.slots.append((off, off + 2 * b)); off += 4 * b
        for i in range(len(c['decoderChannels'])):
            self.slots.append((off, off + 2 * dec[i])); off += 2 * dec[i] + 2 * dec[i + 1]
        self.out_off, self.psi_size = off, off + 2 * dec[-1]
        self.P = nn.Parameter(torch.randn(c['embedding'], self.psi_size) * 0.02 / c['embedding'] ** 0.5)

    def forward(self, y, e):
        psi = e @ self.P
        h = y
        for i, d in enumerate(self.enc):
            h = d(h, i == 0)
            if i == self.enc_att_at:
                h = self.enc_attn(h)
        k = 0
        for r in self.res:
            h = r(h, psi, *self.slots[k], False); k += 1
        for i, u in enumerate(self.ups):
            h = u(h, psi, *self.slots[k], True); k += 1
            if i == self.dec_att_at:
                h = self.dec_attn(h)
        return torch.tanh(self.out(F.relu(adain(h, psi, self.out_off))))


class Discriminator(nn.Module):
    def __init__(self, c, videos):
        super().__init__()
        self.v = Embedder(c)
        ch = c['downChannels'][-1]
        self.last1, self.last2 = conv(ch, ch, 3), conv(ch, ch, 3)
        self.W = nn.Parameter(torch.randn(c['embedding'], videos) * 0.02)
        self.w0 = nn.Parameter(torch.randn(c['embedding']) * 0.02)
        self.b = nn.Parameter(torch.zeros(1))

    def forward(self, x, y, i):
        feats = []
        h = self.v(x, y, feats)
        h = h + self.last2(F.relu(self.last1(F.relu(h))))
        feats.append(h)
        if self.v.out is not None:
            h = self.v.out(h)
        v = F.relu(h.sum((2, 3)))
        return (v * (self.W[:, i].t() + self.w0)).sum(1) + self.b, feats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--config', required=True)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--k', type=int, default=8)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    c = json.loads(a.config)
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    r, B, K = c['resolution'], a.batch, a.k
    E, G, D = Embedder(c), Generator(c), Discriminator(c, 100)
    opt_eg = torch.optim.Adam(list(E.parameters()) + list(G.parameters()), lr=5e-5, betas=(0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0, 0.9))
    xk, yk = torch.rand(B * K, 3, r, r) * 2 - 1, torch.rand(B * K, 3, r, r) * 2 - 1
    xt, yt = torch.rand(B, 3, r, r) * 2 - 1, torch.rand(B, 3, r, r) * 2 - 1
    vid = torch.arange(B)

    def embed():
        h = E(xk, yk)
        if E.out is not None:
            h = E.out(h)
        return F.relu(h.sum((2, 3))).reshape(B, K, -1).mean(1)

    def step():
        for p in D.parameters():
            p.requires_grad_(False)
        with torch.no_grad():
            _, real_feats = D(xt, yt, vid)
        e = embed()
        fake = G(yt, e)
        score, feats = D(fake, yt, vid)
        fm = sum((f - rf).abs().mean() for f, rf in zip(feats, real_feats))
        loss = 10 * (fake - xt).abs().mean() - score.mean() + 10 * fm + 80 * (e - D.W[:, vid].t()).abs().mean()
        opt_eg.zero_grad(set_to_none=True)
        loss.backward()
        opt_eg.step()
        for p in D.parameters():
            p.requires_grad_(True)
        fake = fake.detach()
        for _ in range(2):
            real, _ = D(xt, yt, vid)
            fk, _ = D(fake, yt, vid)
            ld = F.relu(1 - real).mean() + F.relu(1 + fk).mean()
            opt_d.zero_grad(set_to_none=True)
            ld.backward()
            opt_d.step()

    report(step, a.runs, a.warmup)


if __name__ == '__main__':
    main()
