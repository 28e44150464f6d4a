// Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions in NHWC (see winograd.h).
//
// A 3x3 convolution computes each m x m output tile from an (m + 2)^2 input patch d as
//   Y = A^T [ sum_ci (G g G^T) (.) (B^T d B) ] A
// (Lavin & Gray 2016, eq. 10), so the 9 m^2 multiplies per tile and channel pair of the direct
// method become (m + 2)^2 (m = 2: 36 -> 16, m = 4: 144 -> 36), done as (m + 2)^2 matrix products,
// one per position xi of the transformed tile:
//   M[xi] (tiles x Co) = V[xi] (tiles x Ci) * U[xi] (Ci x Co).
// The algebra is exact; in float32 the result differs from the direct convolution by roundings:
// ~1e-6 relative for m = 2 (whose transforms only add and halve), ~1e-5 for m = 4.
//
// Backward-data is the forward convolution of dy with the filter flipped in space and transposed
// (I <-> O), padded by 2 - p. Backward-weights differentiates the same algebra: with dM = A dY A^T
// per output tile, dU[xi] = V[xi]^T dM[xi] summed over tiles and dg = G^T dU G, which is the exact
// gradient of the forward (both are the same bilinear form).
//
// Tiles are processed in chunks (8 or 18 MB of transformed input; NTH_WINOGRAD_CHUNK sets the floats
// per matrix) so the transformed data stays in cache between transform and product; chunk boundaries
// and the order of the per-chunk sums are fixed by the shapes alone, so results do not depend on
// timing.
#include "winograd.h"

#include "isa.h"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using dt = memory::data_type;

namespace nth {
namespace {

int64_t g_min_channels = [] {
  const char* e = std::getenv("NTH_WINOGRAD_MIN");
  return e ? std::atoll(e) : int64_t(32);
}();

int64_t g_calls = 0;

// floats per transformed matrix V[xi] in one chunk (a chunk's V is (m + 2)^2 of them): 2^17 = 512 KB
int64_t chunk_floats() {
  static const int64_t n = [] {
    const char* e = std::getenv("NTH_WINOGRAD_CHUNK");
    return e ? std::max<int64_t>(1024, std::atoll(e)) : int64_t(1) << 17;
  }();
  return n;
}

struct Geometry {
  int64_t m;            // output tile size
  int64_t N, H, W, C;   // input (NHWC)
  int64_t OH, OW, K;    // output (NHWC, K channels)
  int64_t pt, pl;       // padding before rows / columns
  int64_t TH, TW, T;    // tiles per column, per row, in all
};

Geometry geometry(int64_t m, int64_t N, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW, int64_t K,
                  int64_t pt, int64_t pl) {
  Geometry g{m, N, H, W, C, OH, OW, K, pt, pl, (OH + m - 1) / m, (OW + m - 1) / m, 0};
  g.T = N * g.TH * g.TW;
  return g;
}

// The distance between the (m + 2)^2 transformed matrices of a chunk (n tiles x C channels): padded
// by 64 floats, because at a power-of-two distance the rows a transform reads or writes at once would
// fall in the same cache sets and evict each other.
int64_t pitch(int64_t n, int64_t C) { return n * C + 64; }

std::vector<float> arena_u, arena_flip, zeros, junk;

float* grow(std::vector<float>& a, size_t n) {
  if (a.size() < n) a.resize(n);
  return a.data();
}

// The transformed chunks: grow-only, mapped with transparent huge pages where the kernel allows
// (a transform touches 20-52 pages per tile; with 4 KB pages that thrashes the TLB).
struct Arena {
  float* p = nullptr;
  size_t bytes = 0;
  float* get(size_t n) {
    const size_t want = ((n * sizeof(float)) | ((size_t(2) << 20) - 1)) + 1;
    if (want > bytes) {
      release();
      void* m = mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED) throw std::bad_alloc();
      madvise(m, want, MADV_HUGEPAGE);
      p = static_cast<float*>(m), bytes = want;
    }
    return p;
  }
  void release() {
    if (p) munmap(p, bytes);
    p = nullptr, bytes = 0;
  }
};
Arena arena_v, arena_m;

// ---------------------------------------------------------------- transforms
// Each loop runs over channels, contiguous in NHWC, a vector (GCC vector extensions) at a time and
// a scalar tail, all through the same generic body (winograd_transforms.inc). They are built three
// times, for AVX-512, AVX2 and the x86-64-v2 baseline, and the best the CPU has is picked when the
// addon loads (NTH_ISA or set_isa() pick a lower one: tests, benchmarks).
#define NTH_INLINE __attribute__((always_inline))

typedef float f8 __attribute__((vector_size(32)));
typedef float f16 __attribute__((vector_size(64)));

// F(m x m, 3 x 3): m x m output tiles from (m + 2)^2 patches, with B^T, G and A^T of Lavin & Gray
// (interpolation points 0, -1, 1 for m = 2; 0, +-1, +-2 for m = 4; and infinity).
template <int m>
struct F;
template <>
struct F<2> {
  static constexpr int a = 4;
  static constexpr float BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
  static constexpr float AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
  static constexpr float A_[4][2] = {{1, 0}, {1, 1}, {1, -1}, {0, -1}};                         // A
  static constexpr float GT[3][4] = {{1, 0.5f, 0.5f, 0}, {0, 0.5f, -0.5f, 0}, {0, 0.5f, 0.5f, 1}};  // G^T
};
template <>
struct F<4> {
  static constexpr int a = 6;
  static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                     {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr float G[6][3] = {{1.f / 4, 0, 0},
                                    {-1.f / 6, -1.f / 6, -1.f / 6},
                                    {-1.f / 6, 1.f / 6, -1.f / 6},
                                    {1.f / 24, 1.f / 12, 1.f / 6},
                                    {1.f / 24, -1.f / 12, 1.f / 6},
                                    {0, 0, 1}};
  static constexpr float AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
  static constexpr float A_[6][4] = {{1, 0, 0, 0}, {1, 1, 1, 1}, {1, -1, 1, -1},
                                     {1, 2, 4, 8}, {1, -2, 4, -8}, {0, 0, 0, 1}};
  static constexpr float GT[3][6] = {{1.f / 4, -1.f / 6, -1.f / 6, 1.f / 24, 1.f / 24, 0},
                                     {0, -1.f / 6, 1.f / 6, 1.f / 12, -1.f / 12, 0},
                                     {0, -1.f / 6, -1.f / 6, 1.f / 6, 1.f / 6, 1}};
};

// The tile of output tile t: image n, tile row th and column tw.
struct TileAt {
  int64_t n, th, tw;
};
inline TileAt tile_at(const Geometry& g, int64_t t) {
  const int64_t per = g.TH * g.TW;
  return {t / per, (t % per) / g.TW, t % g.TW};
}

// The C channels of pixel (y, x) of image n in an NHWC tensor [., H, W, C], or `outside` past its edge.
template <class P>
inline P pixel(P base, int64_t n, int64_t y, int64_t x, int64_t H, int64_t W, int64_t C, P outside) {
  return y >= 0 && y < H && x >= 0 && x < W ? base + ((n * H + y) * W + x) * C : outside;
}

namespace base {
constexpr int kLanes = 8;
#include "winograd_transforms.inc"
}  // namespace base

#pragma GCC push_options
#pragma GCC target("avx2")
namespace avx2 {
constexpr int kLanes = 8;
#include "winograd_transforms.inc"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
constexpr int kLanes = 16;
#include "winograd_transforms.inc"
}  // namespace avx512
#pragma GCC pop_options

// One instruction set's transforms for tile size m.
template <int m>
struct Transforms {
  void (*input)(const float*, const Geometry&, int64_t, int64_t, float*);
  void (*output)(const float*, const Geometry&, int64_t, int64_t, const float*, float*);
  void (*grad_output)(const float*, const Geometry&, int64_t, int64_t, float*);
  void (*filter)(const float*, int64_t, int64_t, float*);
  void (*filter_grad)(const float*, int64_t, int64_t, float*);
};
#define NTH_TRANSFORMS(ns)                                                                             \
  Transforms<m> {                                                                                     \
    ns::input_transform<m>, ns::output_transform<m>, ns::grad_output_transform<m>, ns::filter_transform<m>, \
        ns::filter_grad_transform<m>                                                                   \
  }

template <int m>
Transforms<m> xf() {
  switch (active_isa()) {
    case Isa::avx512:
      return NTH_TRANSFORMS(avx512);
    case Isa::avx2:
      return NTH_TRANSFORMS(avx2);
    default:
      return NTH_TRANSFORMS(base);
  }
}

// ---------------------------------------------------------------- the products

struct Product {
  primitive prim;
  memory::desc a, b, c;
  std::unique_ptr<memory> scratch;
};
std::unordered_map<std::string, std::unique_ptr<Product>> products;

// c[n][M][N] (+)= op(a)[n][M][K] b[n][K][N] for the n = (m + 2)^2 transformed positions; op(a) = a^T
// read from a [n][K][M] when `trans_a`. sa, sb, sc: the distance between the n matrices of each operand.
Product& product(int64_t n, int64_t M, int64_t K, int64_t N, bool trans_a, bool accumulate, int64_t sa, int64_t sb,
                 int64_t sc, engine& eng) {
  std::string key;
  for (int64_t v : {n, M, K, N, int64_t(trans_a), int64_t(accumulate), sa, sb, sc}) key += std::to_string(v) + ",";
  auto it = products.find(key);
  if (it != products.end()) return *it->second;
  auto p = std::make_unique<Product>();
  p->a = memory::desc({n, M, K}, dt::f32, trans_a ? memory::dims{sa, 1, M} : memory::dims{sa, K, 1});
  p->b = memory::desc({n, K, N}, dt::f32, memory::dims{sb, N, 1});
  p->c = memory::desc({n, M, N}, dt::f32, memory::dims{sc, N, 1});
  primitive_attr attr;
  attr.set_scratchpad_mode(scratchpad_mode::user);
  if (accumulate) {
    post_ops po;
    po.append_sum(1.f);
    attr.set_post_ops(po);
  }
  auto pd = matmul::primitive_desc(matmul::desc(p->a, p->b, p->c), attr, eng);
  p->prim = matmul(pd);
  p->scratch = std::make_unique<memory>(pd.scratchpad_desc(), eng);
  Product& r = *p;
  products.emplace(key, std::move(p));
  return r;
}

void run(Product& p, const float* a, const float* b, float* c, engine& eng, stream& strm) {
  memory am(p.a, eng, const_cast<float*>(a)), bm(p.b, eng, const_cast<float*>(b)), cm(p.c, eng, c);
  p.prim.execute(strm, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, *p.scratch}});
  strm.wait();
}

int64_t chunk_tiles(int64_t T, int64_t channels) { return std::min(T, std::max<int64_t>(16, chunk_floats() / channels)); }

// y = conv3x3(x, U) for an already transformed filter U [A * A][g.C][g.K].
template <int m>
void forward(const float* x, const float* U, const Geometry& g, const float* bias, float* y, engine& eng,
             stream& strm) {
  constexpr int64_t AA = F<m>::a * F<m>::a;
  const int64_t tc = chunk_tiles(g.T, std::max(g.C, g.K));
  float* V = arena_v.get(size_t(AA * pitch(tc, g.C)));
  float* M = arena_m.get(size_t(AA * pitch(tc, g.K)));
  for (int64_t t0 = 0; t0 < g.T; t0 += tc) {
    const int64_t n = std::min(tc, g.T - t0);
    xf<m>().input(x, g, t0, n, V);
    run(product(AA, n, g.C, g.K, false, false, pitch(n, g.C), g.C * g.K, pitch(n, g.K), eng), V, U, M, eng, strm);
    xf<m>().output(M, g, t0, n, bias, y);
  }
}

template <int m>
void conv(int mode, const float* a, const float* b, float* out, const int32_t* p, const float* bias, engine& eng,
          stream& strm) {
  constexpr int64_t AA = F<m>::a * F<m>::a;
  const int64_t N = p[0], H = p[1], W = p[2], Ci = p[3], Co = p[4], pt = p[11], pl = p[12], OH = p[15], OW = p[16];
  if (mode == 0) {
    float* U = grow(arena_u, size_t(AA * Ci * Co));
    xf<m>().filter(b, Ci, Co, U);
    forward<m>(a, U, geometry(m, N, H, W, Ci, OH, OW, Co, pt, pl), bias, out, eng, strm);
  } else if (mode == 1) {
    // dx = conv(dy, g') with g'[kh][kw][o][i] = g[2 - kh][2 - kw][i][o], padded by 2 - p
    float* flip = grow(arena_flip, size_t(9 * Ci * Co));
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < 9; k++)
      for (int64_t o = 0; o < Co; o++)
        for (int64_t i = 0; i < Ci; i++) flip[(k * Co + o) * Ci + i] = b[((8 - k) * Ci + i) * Co + o];
    float* U = grow(arena_u, size_t(AA * Ci * Co));
    xf<m>().filter(flip, Co, Ci, U);
    forward<m>(a, U, geometry(m, N, OH, OW, Co, H, W, Ci, 2 - pt, 2 - pl), nullptr, out, eng, strm);
  } else {
    const Geometry g = geometry(m, N, H, W, Ci, OH, OW, Co, pt, pl);
    const int64_t tc = chunk_tiles(g.T, std::max(Ci, Co));
    float* V = arena_v.get(size_t(AA * pitch(tc, Ci)));
    float* dM = arena_m.get(size_t(AA * pitch(tc, Co)));
    float* dU = grow(arena_u, size_t(AA * Ci * Co));
    for (int64_t t0 = 0; t0 < g.T; t0 += tc) {
      const int64_t n = std::min(tc, g.T - t0);
      xf<m>().input(a, g, t0, n, V);
      xf<m>().grad_output(b, g, t0, n, dM);
      run(product(AA, Ci, n, Co, true, t0 > 0, pitch(n, Ci), pitch(n, Co), Ci * Co, eng), V, dM, dU, eng, strm);
    }
    xf<m>().filter_grad(dU, Ci, Co, out);
  }
}

int g_tile = [] {
  const char* e = std::getenv("NTH_WINOGRAD_TILE");
  return e ? std::atoi(e) : 0;
}();

// F(4x4, 3x3) needs 36 products per 16 outputs instead of 16 per 4 (1.8x fewer multiplies) and
// reads less transformed data per output, but its filter transform is bigger (36 matrices, not 16)
// and its rounding error is ~1e-5 instead of ~1e-6 relative (its transforms hold 1/6, 1/24, 4, 8).
// Measured (docs/benchmarks.md): 10-60% faster than F(2x2, 3x3) from 64 tiles of 4x4 on (8 x
// 16x16x128: 2.8 vs 3.9 ms; 32 x 16x16x256: 35 vs 57 ms), slower below (4 x 8x8x256); sizes that
// are not multiples of 4 keep F(2x2, 3x3). mode 1 computes dx: its output is the forward's input.
int tile_size(int mode, const int32_t* p) {
  if (g_tile == 2 || g_tile == 4) return g_tile;
  const int64_t OH = mode == 1 ? p[1] : p[15], OW = mode == 1 ? p[2] : p[16];
  return OH % 4 == 0 && OW % 4 == 0 && int64_t(p[0]) * (OH / 4) * (OW / 4) >= 64 ? 4 : 2;
}

}  // namespace

bool winograd_applies(const int32_t* p) {
  const int64_t Ci = p[3], Co = p[4], tiles = int64_t(p[0]) * ((p[15] + 1) / 2) * ((p[16] + 1) / 2);
  // Measured on the presets (docs/benchmarks.md): from 32 channels Winograd is 1.5-3x faster than
  // oneDNN's direct kernels on small images and at least even on large ones (128px, 32 channels);
  // below that, and for a handful of tiles, the transforms cost more than the products save.
  return p[5] == 3 && p[6] == 3 && p[7] == 1 && p[8] == 1 && p[9] == 1 && p[10] == 1 && p[11] <= 2 &&
         p[12] <= 2 && p[13] <= 2 && p[14] <= 2 && p[15] == p[1] + p[11] + p[13] - 2 &&
         p[16] == p[2] + p[12] + p[14] - 2 && std::min(Ci, Co) >= g_min_channels && tiles >= (g_min_channels > 1 ? 64 : 1);
}
void set_winograd_min(int64_t channels) { g_min_channels = channels; }
int64_t winograd_min() { return g_min_channels; }
int64_t winograd_calls() { return g_calls; }
int set_winograd_tile(int tile) {
  const int prev = g_tile;
  g_tile = tile;
  return prev;
}

void winograd_conv(int mode, const float* a, const float* b, float* out, const int32_t* p, float* bias, engine& eng,
                   stream& strm) {
  g_calls++;
  if (tile_size(mode, p) == 4)
    conv<4>(mode, a, b, out, p, bias, eng, strm);
  else
    conv<2>(mode, a, b, out, p, bias, eng, strm);
}

void winograd_clear() {
  products.clear();
  arena_v.release(), arena_m.release();
  for (auto* a : {&arena_u, &arena_flip, &zeros, &junk}) std::vector<float>().swap(*a);
}

}  // namespace nth
