// Winograd F(2x2, 3x3) convolutions in NHWC (see winograd.h).
//
// A 3x3 convolution computes each 2x2 output tile from a 4x4 input patch d as
//   Y = A^T [ sum_ci (G g G^T) (.) (B^T d B) ] A
// (Lavin & Gray 2016, eq. 10), so the 36 multiplies per tile and channel pair of the direct method
// become 16, done as 16 matrix products (one per position xi of the 4x4 transformed tile):
//   M[xi] (tiles x Co) = V[xi] (tiles x Ci) * U[xi] (Ci x Co).
// The transforms only add and halve (the F(2x2, 3x3) matrices hold 0, +-1 and +-1/2), so the result
// differs from the direct convolution by a few float32 roundings, not by an approximation.
//
// Backward-data is the forward convolution of dy with the filter flipped in space and transposed
// (I <-> O), padded by 2 - p. Backward-weights differentiates the same algebra: with dM = A dY A^T
// per output tile, dU[xi] = V[xi]^T dM[xi] summed over tiles and dg = G^T dU G, which is the exact
// gradient of the forward (both are the same bilinear form).
//
// Tiles are processed in chunks (a few MB of transformed data each) so transforms and products stay
// in cache; chunk boundaries and the order of the per-chunk sums are fixed by the shapes alone, so
// results do not depend on timing.
#include "winograd.h"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <cstdlib>
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
  return e ? std::atoll(e) : int64_t(64);
}();

int64_t g_calls = 0;

// floats per transformed matrix V[xi] in one chunk (so a chunk's V is 16x this): 2^17 = 512 KB each
int64_t chunk_floats() {
  static const int64_t n = [] {
    const char* e = std::getenv("NTH_WINOGRAD_CHUNK");
    return e ? std::max<int64_t>(1024, std::atoll(e)) : int64_t(1) << 17;
  }();
  return n;
}

struct Geometry {
  int64_t N, H, W, C;   // input (NHWC)
  int64_t OH, OW, K;    // output (NHWC, K channels)
  int64_t pt, pl;       // padding before rows / columns
  int64_t TH, TW, T;    // tiles per column, per row, in all
};

Geometry geometry(int64_t N, int64_t H, int64_t W, int64_t C, int64_t OH, int64_t OW, int64_t K, int64_t pt,
                  int64_t pl) {
  Geometry g{N, H, W, C, OH, OW, K, pt, pl, (OH + 1) / 2, (OW + 1) / 2, 0};
  g.T = N * g.TH * g.TW;
  return g;
}

// The distance between the 16 transformed matrices of a chunk (n tiles x C channels): padded by 64
// floats, because at a power-of-two distance the 16 rows a transform reads or writes at once fall in
// the same cache sets and evict each other (measured: transforms 2x slower).
int64_t pitch(int64_t n, int64_t C) { return n * C + 64; }

std::vector<float> arena_u, arena_flip, zeros, junk;

float* grow(std::vector<float>& a, size_t n) {
  if (a.size() < n) a.resize(n);
  return a.data();
}

// The transformed chunks: grow-only, mapped with transparent huge pages where the kernel allows
// (a transform touches 16-20 pages per tile; with 4 KB pages that thrashes the TLB).
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
// Each loop runs over channels, contiguous in NHWC: eight at a time in a vector (GCC vector
// extensions) and a scalar tail, both through the same generic body. The transforms are built twice,
// for AVX2 and for the x86-64-v2 baseline (two SSE halves per vector), and picked when the addon loads.
#define NTH_CLONES __attribute__((target_clones("avx2", "default")))

typedef float f8 __attribute__((vector_size(32)));
template <class V>
inline V ld(const float* p);
template <>
inline float ld<float>(const float* p) {
  return *p;
}
template <>
inline f8 ld<f8>(const float* p) {
  f8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void st(float* p, float v) { *p = v; }
inline void st(float* p, f8 v) { std::memcpy(p, &v, sizeof v); }

// Runs body(lane, c) for c = 0, 8, 16, ... with a lane of type f8, then for the tail with a float.
template <class F>
inline void over_channels(int64_t C, F&& body) {
  int64_t c = 0;
  for (; c + 8 <= C; c += 8) body(f8{}, c);
  for (; c < C; c++) body(0.f, c);
}

// V[xi][i][c] = (B^T d B)[xi] for tiles t0 .. t0 + tc - 1 of x; out-of-image pixels read as zeros.
NTH_CLONES void input_transform(const float* x, const Geometry& g, int64_t t0, int64_t tc, float* V) {
  const int64_t C = g.C, per = g.TH * g.TW;
  const float* z = grow(zeros, size_t(C));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < tc; i++) {
    const int64_t t = t0 + i, n = t / per, th = (t % per) / g.TW, tw = t % g.TW;
    const float* d[16];
    for (int a = 0; a < 4; a++)
      for (int b = 0; b < 4; b++) {
        const int64_t y = 2 * th - g.pt + a, xx = 2 * tw - g.pl + b;
        d[a * 4 + b] = (y >= 0 && y < g.H && xx >= 0 && xx < g.W) ? x + ((n * g.H + y) * g.W + xx) * C : z;
      }
    float* o[16];
    for (int k = 0; k < 16; k++) o[k] = V + k * pitch(tc, C) + i * C;
    over_channels(C, [&](auto lane, int64_t c) {
      using T = decltype(lane);
      T s[16];
      for (int b = 0; b < 4; b++) {  // B^T d: combine rows
        const T d0 = ld<T>(d[b] + c), d1 = ld<T>(d[4 + b] + c), d2 = ld<T>(d[8 + b] + c), d3 = ld<T>(d[12 + b] + c);
        s[b] = d0 - d2, s[4 + b] = d1 + d2, s[8 + b] = d2 - d1, s[12 + b] = d1 - d3;
      }
      for (int a = 0; a < 4; a++) {  // (.) B: combine columns
        const T* r = s + 4 * a;
        st(o[4 * a] + c, r[0] - r[2]), st(o[4 * a + 1] + c, r[1] + r[2]);
        st(o[4 * a + 2] + c, r[2] - r[1]), st(o[4 * a + 3] + c, r[1] - r[3]);
      }
    });
  }
}

// y tile = A^T M A (+ bias) for tiles t0 .. t0 + tc - 1; outputs past the image edge are dropped.
NTH_CLONES void output_transform(const float* M, const Geometry& g, int64_t t0, int64_t tc, const float* bias, float* y) {
  const int64_t K = g.K, per = g.TH * g.TW;
  const float* bz = bias ? bias : grow(zeros, size_t(K));
  float* jk = grow(junk, size_t(K) * 4 * size_t(omp_get_max_threads()));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < tc; i++) {
    const int64_t t = t0 + i, n = t / per, th = (t % per) / g.TW, tw = t % g.TW;
    float* o[4];
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 2; b++) {
        const int64_t r = 2 * th + a, c = 2 * tw + b;
        o[a * 2 + b] = (r < g.OH && c < g.OW) ? y + ((n * g.OH + r) * g.OW + c) * K
                                                : jk + (int64_t(omp_get_thread_num()) * 4 + a * 2 + b) * K;
      }
    const float* m[16];
    for (int k = 0; k < 16; k++) m[k] = M + k * pitch(tc, K) + i * K;
    over_channels(K, [&](auto lane, int64_t c) {
      using T = decltype(lane);
      T s[8];
      for (int b = 0; b < 4; b++) {  // A^T M: rows
        const T m0 = ld<T>(m[b] + c), m1 = ld<T>(m[4 + b] + c), m2 = ld<T>(m[8 + b] + c), m3 = ld<T>(m[12 + b] + c);
        s[b] = m0 + m1 + m2, s[4 + b] = m1 - m2 - m3;
      }
      const T bc = ld<T>(bz + c);
      for (int a = 0; a < 2; a++) {  // (.) A: columns
        const T* r = s + 4 * a;
        st(o[2 * a] + c, r[0] + r[1] + r[2] + bc);
        st(o[2 * a + 1] + c, r[1] - r[2] - r[3] + bc);
      }
    });
  }
}

// dM[xi][i][c] = (A dY A^T)[xi] for the 2x2 dy tiles t0 .. t0 + tc - 1 (zeros past the edge).
NTH_CLONES void grad_output_transform(const float* dy, const Geometry& g, int64_t t0, int64_t tc, float* dM) {
  const int64_t K = g.K, per = g.TH * g.TW;
  const float* z = grow(zeros, size_t(K));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < tc; i++) {
    const int64_t t = t0 + i, n = t / per, th = (t % per) / g.TW, tw = t % g.TW;
    const float* d[4];
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 2; b++) {
        const int64_t r = 2 * th + a, c = 2 * tw + b;
        d[a * 2 + b] = (r < g.OH && c < g.OW) ? dy + ((n * g.OH + r) * g.OW + c) * K : z;
      }
    float* o[16];
    for (int k = 0; k < 16; k++) o[k] = dM + k * pitch(tc, K) + i * K;
    over_channels(K, [&](auto lane, int64_t c) {
      using T = decltype(lane);
      T u[8];
      for (int b = 0; b < 2; b++) {  // A dY: rows
        const T r0 = ld<T>(d[b] + c), r1 = ld<T>(d[2 + b] + c);
        u[b] = r0, u[2 + b] = r0 + r1, u[4 + b] = r0 - r1, u[6 + b] = -r1;
      }
      for (int a = 0; a < 4; a++) {  // (.) A^T: columns
        const T c0 = u[2 * a], c1 = u[2 * a + 1];
        st(o[4 * a] + c, c0), st(o[4 * a + 1] + c, c0 + c1), st(o[4 * a + 2] + c, c0 - c1), st(o[4 * a + 3] + c, -c1);
      }
    });
  }
}

// U[xi][i][o] = (G g G^T)[xi] for an HWIO 3x3 filter g [3][3][I][O].
NTH_CLONES void filter_transform(const float* w, int64_t I, int64_t O, float* U) {
  const int64_t IO = I * O;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < I; i++) {
#pragma omp simd
    for (int64_t o = 0; o < O; o++) {
      float s[12];
      for (int b = 0; b < 3; b++) {  // G g: rows
        const float g0 = w[(0 * 3 + b) * IO + i * O + o], g1 = w[(1 * 3 + b) * IO + i * O + o],
                    g2 = w[(2 * 3 + b) * IO + i * O + o];
        s[b] = g0, s[3 + b] = 0.5f * (g0 + g1 + g2), s[6 + b] = 0.5f * (g0 - g1 + g2), s[9 + b] = g2;
      }
      for (int a = 0; a < 4; a++) {  // (.) G^T: columns
        const float* r = s + 3 * a;
        U[(4 * a) * IO + i * O + o] = r[0];
        U[(4 * a + 1) * IO + i * O + o] = 0.5f * (r[0] + r[1] + r[2]);
        U[(4 * a + 2) * IO + i * O + o] = 0.5f * (r[0] - r[1] + r[2]);
        U[(4 * a + 3) * IO + i * O + o] = r[2];
      }
    }
  }
}

// dg = G^T dU G into an HWIO filter gradient [3][3][I][O].
NTH_CLONES void filter_grad_transform(const float* dU, int64_t I, int64_t O, float* dw) {
  const int64_t IO = I * O;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < I; i++) {
#pragma omp simd
    for (int64_t o = 0; o < O; o++) {
      float s[12];
      for (int b = 0; b < 4; b++) {  // G^T dU: rows
        const float u0 = dU[(0 * 4 + b) * IO + i * O + o], u1 = dU[(1 * 4 + b) * IO + i * O + o],
                    u2 = dU[(2 * 4 + b) * IO + i * O + o], u3 = dU[(3 * 4 + b) * IO + i * O + o];
        s[b] = u0 + 0.5f * (u1 + u2), s[4 + b] = 0.5f * (u1 - u2), s[8 + b] = 0.5f * (u1 + u2) + u3;
      }
      for (int a = 0; a < 3; a++) {  // (.) G: columns
        const float* r = s + 4 * a;
        dw[(a * 3 + 0) * IO + i * O + o] = r[0] + 0.5f * (r[1] + r[2]);
        dw[(a * 3 + 1) * IO + i * O + o] = 0.5f * (r[1] - r[2]);
        dw[(a * 3 + 2) * IO + i * O + o] = 0.5f * (r[1] + r[2]) + r[3];
      }
    }
  }
}

// ---------------------------------------------------------------- the 16 products

struct Product {
  primitive prim;
  memory::desc a, b, c;
  std::unique_ptr<memory> scratch;
};
std::unordered_map<std::string, std::unique_ptr<Product>> products;

// c[16][M][N] (+)= op(a)[16][M][K] b[16][K][N]; op(a) = a^T read from a [16][K][M] when `trans_a`.
// sa, sb, sc: the distance between the 16 matrices of each operand.
Product& product(int64_t M, int64_t K, int64_t N, bool trans_a, bool accumulate, int64_t sa, int64_t sb, int64_t sc,
                 engine& eng) {
  const std::string key = std::to_string(M) + "," + std::to_string(K) + "," + std::to_string(N) + "," +
                          std::to_string(trans_a) + std::to_string(accumulate) + "," + std::to_string(sa) + "," +
                          std::to_string(sb) + "," + std::to_string(sc);
  auto it = products.find(key);
  if (it != products.end()) return *it->second;
  auto p = std::make_unique<Product>();
  p->a = memory::desc({16, M, K}, dt::f32, trans_a ? memory::dims{sa, 1, M} : memory::dims{sa, K, 1});
  p->b = memory::desc({16, K, N}, dt::f32, memory::dims{sb, N, 1});
  p->c = memory::desc({16, M, N}, dt::f32, memory::dims{sc, N, 1});
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

// y = conv3x3(x, U) for an already transformed filter U [16][g.C][g.K].
void forward(const float* x, const float* U, const Geometry& g, const float* bias, float* y, engine& eng,
             stream& strm) {
  const int64_t tc = chunk_tiles(g.T, std::max(g.C, g.K));
  float* V = arena_v.get(size_t(16 * pitch(tc, g.C)));
  float* M = arena_m.get(size_t(16 * pitch(tc, g.K)));
  for (int64_t t0 = 0; t0 < g.T; t0 += tc) {
    const int64_t n = std::min(tc, g.T - t0);
    input_transform(x, g, t0, n, V);
    run(product(n, g.C, g.K, false, false, pitch(n, g.C), g.C * g.K, pitch(n, g.K), eng), V, U, M, eng, strm);
    output_transform(M, g, t0, n, bias, y);
  }
}

}  // namespace

bool winograd_applies(int mode, const int32_t* p) {
  const int64_t Ci = p[3], Co = p[4], tiles = int64_t(p[0]) * ((p[15] + 1) / 2) * ((p[16] + 1) / 2);
  // Measured on the presets (docs/benchmarks.md): Winograd wins from 64 channels on for all three
  // passes and from 32 for backward-weights (whose direct kernel is the slowest of the three); below
  // that, and for a handful of tiles, the transforms cost more than the products save.
  const int64_t min_c = mode == 2 ? g_min_channels / 2 : g_min_channels;
  return p[5] == 3 && p[6] == 3 && p[7] == 1 && p[8] == 1 && p[9] == 1 && p[10] == 1 && p[11] <= 2 &&
         p[12] <= 2 && p[13] <= 2 && p[14] <= 2 && p[15] == p[1] + p[11] + p[13] - 2 &&
         p[16] == p[2] + p[12] + p[14] - 2 && std::min(Ci, Co) >= min_c && tiles >= (g_min_channels > 1 ? 64 : 1);
}
void set_winograd_min(int64_t channels) { g_min_channels = channels; }
int64_t winograd_min() { return g_min_channels; }
int64_t winograd_calls() { return g_calls; }

void winograd_conv(int mode, const float* a, const float* b, float* out, const int32_t* p, float* bias, engine& eng,
                   stream& strm) {
  const int64_t N = p[0], H = p[1], W = p[2], Ci = p[3], Co = p[4], pt = p[11], pl = p[12], OH = p[15], OW = p[16];
  g_calls++;
  if (mode == 0) {
    float* U = grow(arena_u, size_t(16 * Ci * Co));
    filter_transform(b, Ci, Co, U);
    forward(a, U, geometry(N, H, W, Ci, OH, OW, Co, pt, pl), bias, out, eng, strm);
  } else if (mode == 1) {
    // dx = conv(dy, g') with g'[kh][kw][o][i] = g[2 - kh][2 - kw][i][o], padded by 2 - p
    float* flip = grow(arena_flip, size_t(9 * Ci * Co));
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < 9; k++)
      for (int64_t o = 0; o < Co; o++)
        for (int64_t i = 0; i < Ci; i++) flip[(k * Co + o) * Ci + i] = b[((8 - k) * Ci + i) * Co + o];
    float* U = grow(arena_u, size_t(16 * Ci * Co));
    filter_transform(flip, Co, Ci, U);
    forward(a, U, geometry(N, OH, OW, Co, H, W, Ci, 2 - pt, 2 - pl), nullptr, out, eng, strm);
  } else {
    const Geometry g = geometry(N, H, W, Ci, OH, OW, Co, pt, pl);
    const int64_t tc = chunk_tiles(g.T, std::max(Ci, Co));
    float* V = arena_v.get(size_t(16 * pitch(tc, Ci)));
    float* dM = arena_m.get(size_t(16 * pitch(tc, Co)));
    float* dU = grow(arena_u, size_t(16 * Ci * Co));
    for (int64_t t0 = 0; t0 < g.T; t0 += tc) {
      const int64_t n = std::min(tc, g.T - t0);
      input_transform(a, g, t0, n, V);
      grad_output_transform(b, g, t0, n, dM);
      run(product(Ci, n, Co, true, t0 > 0, pitch(n, Ci), pitch(n, Co), Ci * Co, eng), V, dM, dU, eng, strm);
    }
    filter_grad_transform(dU, Ci, Co, out);
  }
}

void winograd_clear() {
  products.clear();
  arena_v.release(), arena_m.release();
  for (auto* a : {&arena_u, &arena_flip, &zeros, &junk}) std::vector<float>().swap(*a);
}

}  // namespace nth
