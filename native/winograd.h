// Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions (Lavin & Gray 2016, "Fast Algorithms for
// Convolutional Neural Networks") for the 3x3 stride-1 convolutions that are most of a training
// step: forward, backward-data and backward-weights, each as transforms around 16 or 36 batched
// oneDNN matmuls.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>

namespace nth {

// Whether a convolution (params as in addon.cc's conv: N,H,W,Ci,Co,KH,KW,sh,sw,dh,dw,pt,pl,pb,pr,
// OH,OW) runs as Winograd, all three passes: 3x3, stride 1, no dilation, padding at most 2, both
// channel counts at least the threshold (default 32, NTH_WINOGRAD_MIN) and at least 64 output
// tiles. set_winograd_min(1) sends every such convolution through Winograd (tests); a huge value
// turns it off.
bool winograd_applies(const int32_t* p);
void set_winograd_min(int64_t channels);
int64_t winograd_min();
// 0: pick the tile by size (F(4x4, 3x3) for the larger convolutions, else F(2x2, 3x3)); 2 or 4:
// always that tile (tests). Returns the previous setting.
int set_winograd_tile(int tile);
// how many convolution passes have run as Winograd (tests check the path they meant to reach ran)
int64_t winograd_calls();

// mode 0: out = conv(x = a, w = b) (+ bias when not null)   mode 1: out = dx(dy = a, w = b)
// mode 2: out = dw(x = a, dy = b)
void winograd_conv(int mode, const float* a, const float* b, float* out, const int32_t* p, float* bias,
                   dnnl::engine& eng, dnnl::stream& strm);

void winograd_clear();

}  // namespace nth
