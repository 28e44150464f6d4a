/**
 * Fréchet distance between Gaussian fits of two feature sets (Heusel et al. 2017, "GANs Trained by a
 * Two Time-Scale Update Rule Converge to a Local Nash Equilibrium": FID with Inception-v3 features):
 *
 *   d² = |mu1 - mu2|² + Tr(S1 + S2 - 2 (S1^½ S2 S1^½)^½)
 *
 * Tr((S1 S2)^½) is computed as Tr((S1^½ S2 S1^½)^½): the inner matrix is symmetric positive
 * semi-definite, so its square root comes from a symmetric eigendecomposition (Jacobi rotations, in
 * float64) with no complex parts to discard, unlike scipy's sqrtm of the non-symmetric S1 S2.
 * Negative eigenvalues from rounding are clamped to 0.
 *
 * Which features it runs on is the caller's choice and part of the metric's name (FID with
 * Inception-v3; FD-faceapi with face-api's face-recognition descriptor).
 */

export interface Gaussian {
  dim: number;
  mean: Float64Array;
  /** dim x dim, row-major, unbiased (n - 1) */
  cov: Float64Array;
  n: number;
}

/** Mean and covariance of n feature vectors (rows). */
export function fitGaussian(rows: ArrayLike<number>[]): Gaussian {
  const n = rows.length;
  if (n < 2) throw new RangeError(`fitGaussian: need at least 2 feature vectors, got ${n}`);
  const dim = rows[0]!.length;
  const mean = new Float64Array(dim);
  for (const r of rows) {
    if (r.length !== dim) throw new RangeError(`fitGaussian: vectors of ${dim} and ${r.length} values`);
    for (let i = 0; i < dim; i++) mean[i]! += r[i]! / n;
  }
  const cov = new Float64Array(dim * dim);
  const d = new Float64Array(dim);
  for (const r of rows) {
    for (let i = 0; i < dim; i++) d[i] = r[i]! - mean[i]!;
    for (let i = 0; i < dim; i++) {
      const di = d[i]!;
      for (let j = i; j < dim; j++) cov[i * dim + j]! += di * d[j]!;
    }
  }
  for (let i = 0; i < dim; i++)
    for (let j = i; j < dim; j++) {
      const v = cov[i * dim + j]! / (n - 1);
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  return { dim, mean, cov, n };
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix (cyclic Jacobi). Returns the eigenvalues and
 * the eigenvectors as the columns of a row-major matrix.
 */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const off = () => {
    let s = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += m[i * n + j]! ** 2;
    return s;
  };
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += m[i]! ** 2;
  for (let sweep = 0; sweep < 100 && off() > 1e-22 * Math.max(scale, 1e-300); sweep++) {
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // columns p and q
          const mkp = m[k * n + p]!;
          const mkq = m[k * n + q]!;
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          // rows p and q
          const mpk = m[p * n + k]!;
          const mqk = m[q * n + k]!;
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = m[i * n + i]!;
  return { values, vectors: v };
}

/** The symmetric PSD square root of a symmetric matrix (negative eigenvalues clamped to 0). */
export function sqrtPsd(a: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(0, values[k]!));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k]! * s;
      for (let j = 0; j < n; j++) out[i * n + j]! += vik * vectors[j * n + k]!;
    }
  }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j]! += aik * b[k * n + j]!;
    }
  return out;
}

/** Squared Fréchet distance between two Gaussians (the number FID reports). */
export function frechetDistance(g1: Gaussian, g2: Gaussian): number {
  if (g1.dim !== g2.dim) throw new RangeError(`frechetDistance: ${g1.dim}-D and ${g2.dim}-D features`);
  const n = g1.dim;
  let d2 = 0;
  for (let i = 0; i < n; i++) d2 += (g1.mean[i]! - g2.mean[i]!) ** 2;
  const r1 = sqrtPsd(g1.cov, n);
  const inner = matmul(matmul(r1, g2.cov, n), r1, n);
  // symmetrise against rounding before the eigendecomposition
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const s = (inner[i * n + j]! + inner[j * n + i]!) / 2;
      inner[i * n + j] = s;
      inner[j * n + i] = s;
    }
  const { values } = symmetricEigen(inner, n);
  let trSqrt = 0;
  for (const v of values) trSqrt += Math.sqrt(Math.max(0, v));
  let tr = 0;
  for (let i = 0; i < n; i++) tr += g1.cov[i * n + i]! + g2.cov[i * n + i]!;
  return Math.max(0, d2 + tr - 2 * trSqrt);
}

/**
 * The Fréchet distance of the Gaussian fits of two sample sets, computed from the samples. When the
 * features have more dimensions than there are samples (FID's 2048-D pool3 on a few hundred frames),
 * the d x d covariances are never formed: with centred samples A (n1 x d) and B (n2 x d),
 * S1 = A'A / (n1 - 1) and S2 = B'B / (n2 - 1), and the non-zero eigenvalues of S1 S2 are the squared
 * singular values of M = A B' / sqrt((n1 - 1)(n2 - 1)), so Tr((S1 S2)^½) is M's nuclear norm: an
 * n1 x n1 eigenproblem instead of d x d (exact, not an approximation).
 */
export function frechetDistanceOfSamples(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  const d = a[0]?.length ?? 0;
  if (d <= Math.min(a.length, b.length)) return frechetDistance(fitGaussian(a), fitGaussian(b));
  const n1 = a.length;
  const n2 = b.length;
  if (n1 < 2 || n2 < 2) throw new RangeError('frechetDistanceOfSamples: need at least 2 samples a side');
  const ga = fitGaussianMean(a);
  const gb = fitGaussianMean(b);
  const A = a.map((r) => Float64Array.from(r, (v, i) => v - ga[i]!));
  const B = b.map((r) => Float64Array.from(r, (v, i) => v - gb[i]!));
  let d2 = 0;
  for (let i = 0; i < d; i++) d2 += (ga[i]! - gb[i]!) ** 2;
  const sq = (rows: Float64Array[]) => rows.reduce((s, r) => s + r.reduce((t, v) => t + v * v, 0), 0);
  const tr1 = sq(A) / (n1 - 1);
  const tr2 = sq(B) / (n2 - 1);
  // M = A B' / c, then M M' (n1 x n1, symmetric PSD): its eigenvalues are M's squared singular values
  const c = Math.sqrt((n1 - 1) * (n2 - 1));
  const M = A.map((ra) => Float64Array.from(B, (rb) => ra.reduce((s, v, i) => s + v * rb[i]!, 0) / c));
  const MMt = new Float64Array(n1 * n1);
  for (let i = 0; i < n1; i++)
    for (let j = i; j < n1; j++) {
      const v = M[i]!.reduce((s, x, k) => s + x * M[j]![k]!, 0);
      MMt[i * n1 + j] = v;
      MMt[j * n1 + i] = v;
    }
  const { values } = symmetricEigen(MMt, n1);
  let nuclear = 0;
  for (const v of values) nuclear += Math.sqrt(Math.max(0, v));
  return Math.max(0, d2 + tr1 + tr2 - 2 * nuclear);
}

function fitGaussianMean(rows: ArrayLike<number>[]): Float64Array {
  const d = rows[0]!.length;
  const m = new Float64Array(d);
  for (const r of rows) for (let i = 0; i < d; i++) m[i]! += r[i]! / rows.length;
  return m;
}

/** Cosine similarity of two vectors (CSIM's per-pair value), -1..1; 0 when either is zero. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`cosineSimilarity: ${a.length} and ${b.length} values`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}
