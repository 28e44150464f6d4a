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
// Each loop runs over channels, contiguous in NHWC: eight at a time in a vector (GCC vector
// extensions) and a scalar tail, both through the same generic body. The transforms are built twice,
// for AVX2 and for the x86-64-v2 baseline (two SSE halves per vector), and picked when the addon loads.
#define NTH_CLONES __attribute__((target_clones("avx2", "default")))
#define NTH_INLINE __attribute__((always_inline))

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
inline NTH_INLINE void over_channels(int64_t C, F&& body) {
  int64_t c = 0;
  for (; c + 8 <= C; c += 8) body(f8{}, c);
  for (; c < C; c++) body(0.f, c);
}

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

// sum_k c[k] x[k * stride] with the constant coefficients folded: zeros skipped, +-1 as add / sub
// (the loops unroll, so each coefficient is a compile-time constant).
template <int n, class T>
inline T comb(const float* c, const T* x, int stride) {
  T acc{};
  bool first = true;
#pragma GCC unroll 8
  for (int k = 0; k < n; k++) {
    const float ck = c[k];
    if (ck == 0) continue;
    const T term = ck == 1 ? x[k * stride] : ck == -1 ? -x[k * stride] : x[k * stride] * ck;
    acc = first ? term : acc + term;
    first = false;
  }
  return acc;
}

// y [P][S] = L x R^T for constant L [P][Q] and R [S][U] and x [Q][U] (row-major): every transform
// of the algorithm has this two-sided form (B^T d B, A^T M A, A dY A^T, G g G^T, G^T dU G).
template <int P, int Q, int S, int U, class T>
inline NTH_INLINE void sandwich(const float (&L)[P][Q], const float (&R)[S][U], const T* x, T* y) {
  T t[P * U];
#pragma GCC unroll 8
  for (int p = 0; p < P; p++)  // L x: combine rows
#pragma GCC unroll 8
    for (int u = 0; u < U; u++) t[p * U + u] = comb<Q>(L[p], x + u, U);
#pragma GCC unroll 8
  for (int p = 0; p < P; p++)  // (.) R^T: combine columns
#pragma GCC unroll 8
    for (int q = 0; q < S; q++) y[p * S + q] = comb<U>(R[q], t + p * U, 1);
}

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

// out[k][c] = (L in R^T)[k] (+ add[c]) for c < C: the Q x U matrix `in` and the P x S result are read
// and written one channel vector per pointer, so tiles of NHWC images, rows of the transformed
// matrices and HWIO filter taps all go through the same loop.
template <int P, int Q, int S, int U>
inline NTH_INLINE void transform_channels(const float (&L)[P][Q], const float (&R)[S][U], const float* const* in,
                                          float* const* out, int64_t C, const float* add = nullptr) {
  over_channels(C, [&](auto lane, int64_t c) NTH_INLINE {
    using T = decltype(lane);
    T v[Q * U], r[P * S];
#pragma GCC unroll 64
    for (int k = 0; k < Q * U; k++) v[k] = ld<T>(in[k] + c);
    sandwich(L, R, v, r);
    if (add) {
      const T b = ld<T>(add + c);
#pragma GCC unroll 64
      for (int k = 0; k < P * S; k++) r[k] = r[k] + b;
    }
#pragma GCC unroll 64
    for (int k = 0; k < P * S; k++) st(out[k] + c, r[k]);
  });
}

// V[xi][i][c] = (B^T d B)[xi] for tiles t0 .. t0 + tc - 1 of x; out-of-image pixels read as zeros.
template <int m>
NTH_CLONES void input_transform(const float* x, const Geometry& g, int64_t t0, int64_t tc, float* V) {
  constexpr int A = F<m>::a;
  const float* z = grow(zeros, size_t(g.C));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < tc; i++) {
    const TileAt at = tile_at(g, t0 + i);
    const float* d[A * A];
    float* o[A * A];
    for (int a = 0; a < A; a++)
      for (int b = 0; b < A; b++)
        d[a * A + b] = pixel(x, at.n, m * at.th - g.pt + a, m * at.tw - g.pl + b, g.H, g.W, g.C, z);
    for (int k = 0; k < A * A; k++) o[k] = V + k * pitch(tc, g.C) + i * g.C;
    transform_channels(F<m>::BT, F<m>::BT, d, o, g.C);
  }
}

// y tile = A^T M A (+ bias) for tiles t0 .. t0 + tc - 1; outputs past the image edge are dropped.
template <int m>
NTH_CLONES void output_transform(const float* M, const Geometry& g, int64_t t0, int64_t tc, const float* bias,
                                 float* y) {
  constexpr int A = F<m>::a;
  float* jk = grow(junk, size_t(g.K) * m * m * size_t(omp_get_max_threads()));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < tc; i++) {
    const TileAt at = tile_at(g, t0 + i);
    const float* mp[A * A];
    float* o[m * m];
    for (int k = 0; k < A * A; k++) mp[k] = M + k * pitch(tc, g.K) + i * g.K;
    for (int a = 0; a < m; a++)
      for (int b = 0; b < m; b++) {
        float* discard = jk + (int64_t(omp_get_thread_num()) * m * m + a * m + b) * g.K;
        o[a * m + b] = pixel(y, at.n, m * at.th + a, m * at.tw + b, g.OH, g.OW, g.K, discard);
      }
    transform_channels(F<m>::AT, F<m>::AT, mp, o, g.K, bias);
  }
}

// dM[xi][i][c] = (A dY A^T)[xi] for the m x m dy tiles t0 .. t0 + tc - 1 (zeros past the edge).
template <int m>
NTH_CLONES void grad_output_transform(const float* dy, const Geometry& g, int64_t t0, int64_t tc, float* dM) {
  constexpr int A = F<m>::a;
  const float* z = grow(zeros, size_t(g.K));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < tc; i++) {
    const TileAt at = tile_at(g, t0 + i);
    const float* d[m * m];
    float* o[A * A];
    for (int a = 0; a < m; a++)
      for (int b = 0; b < m; b++) d[a * m + b] = pixel(dy, at.n, m * at.th + a, m * at.tw + b, g.OH, g.OW, g.K, z);
    for (int k = 0; k < A * A; k++) o[k] = dM + k * pitch(tc, g.K) + i * g.K;
    transform_channels(F<m>::A_, F<m>::A_, d, o, g.K);
  }
}

// U[xi][i][o] = (G g G^T)[xi] for an HWIO 3x3 filter g [3][3][I][O].
template <int m>
NTH_CLONES void filter_transform(const float* w, int64_t I, int64_t O, float* U) {
  constexpr int A = F<m>::a;
  const int64_t IO = I * O;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < I; i++) {
    const float* taps[9];
    float* o[A * A];
    for (int k = 0; k < 9; k++) taps[k] = w + k * IO + i * O;
    for (int k = 0; k < A * A; k++) o[k] = U + k * IO + i * O;
    transform_channels(F<m>::G, F<m>::G, taps, o, O);
  }
}

// dg = G^T dU G into an HWIO filter gradient [3][3][I][O].
template <int m>
NTH_CLONES void filter_grad_transform(const float* dU, int64_t I, int64_t O, float* dw) {
  constexpr int A = F<m>::a;
  const int64_t IO = I * O;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < I; i++) {
    const float* u[A * A];
    float* taps[9];
    for (int k = 0; k < A * A; k++) u[k] = dU + k * IO + i * O;
    for (int k = 0; k < 9; k++) taps[k] = dw + k * IO + i * O;
    transform_channels(F<m>::GT, F<m>::GT, u, taps, O);
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
    input_transform<m>(x, g, t0, n, V);
    run(product(AA, n, g.C, g.K, false, false, pitch(n, g.C), g.C * g.K, pitch(n, g.K), eng), V, U, M, eng, strm);
    output_transform<m>(M, g, t0, n, bias, y);
  }
}

template <int m>
void conv(int mode, const float* a, const float* b, float* out, const int32_t* p, const float* bias, engine& eng,
          stream& strm) {
  constexpr int64_t AA = F<m>::a * F<m>::a;
  const int64_t N = p[0], H = p[1], W = p[2], Ci = p[3], Co = p[4], pt = p[11], pl = p[12], OH = p[15], OW = p[16];
  if (mode == 0) {
    float* U = grow(arena_u, size_t(AA * Ci * Co));
    filter_transform<m>(b, Ci, Co, U);
    forward<m>(a, U, geometry(m, N, H, W, Ci, OH, OW, Co, pt, pl), bias, out, eng, strm);
  } else if (mode == 1) {
    // dx = conv(dy, g') with g'[kh][kw][o][i] = g[2 - kh][2 - kw][i][o], padded by 2 - p
    float* flip = grow(arena_flip, size_t(9 * Ci * Co));
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < 9; k++)
      for (int64_t o = 0; o < Co; o++)
        for (int64_t i = 0; i < Ci; i++) flip[(k * Co + o) * Ci + i] = b[((8 - k) * Ci + i) * Co + o];
    float* U = grow(arena_u, size_t(AA * Ci * Co));
    filter_transform<m>(flip, Co, Ci, U);
    forward<m>(a, U, geometry(m, N, OH, OW, Co, H, W, Ci, 2 - pt, 2 - pl), nullptr, out, eng, strm);
  } else {
    const Geometry g = geometry(m, N, H, W, Ci, OH, OW, Co, pt, pl);
    const int64_t tc = chunk_tiles(g.T, std::max(Ci, Co));
    float* V = arena_v.get(size_t(AA * pitch(tc, Ci)));
    float* dM = arena_m.get(size_t(AA * pitch(tc, Co)));
    float* dU = grow(arena_u, size_t(AA * Ci * Co));
    for (int64_t t0 = 0; t0 < g.T; t0 += tc) {
      const int64_t n = std::min(tc, g.T - t0);
      input_transform<m>(a, g, t0, n, V);
      grad_output_transform<m>(b, g, t0, n, dM);
      run(product(AA, Ci, n, Co, true, t0 > 0, pitch(n, Ci), pitch(n, Co), Ci * Co, eng), V, dM, dU, eng, strm);
    }
    filter_grad_transform<m>(dU, Ci, Co, out);
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
