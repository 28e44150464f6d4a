/**
 * Software renderer for the procedural talking heads: triangle meshes in a z-buffer (deferred: the
 * buffer keeps triangle id and barycentrics, shading runs once per visible pixel), Lambert + Blinn
 * lighting, 2x2 supersampling, glasses drawn as projected 3-D rings. Landmarks are projected from the
 * head surface with the same camera, in output pixel coordinates.
 */
import { hashSeed } from '../engine/rng.js';
import { Head, Label, shadeColor, type Noise, type Shaded } from './head.js';
import { identityParams, type Identity, type RGB } from './identity.js';
import { frameParams, sequenceScript, type FrameParams, type Script } from './motion.js';
import { LANDMARK_VALUES } from '../faces/landmarks.js';

export interface RenderedFrame {
  size: number;
  /** HWC uint8 RGB */
  image: Uint8Array;
  /** 68 (x, y) pairs in pixel coordinates */
  landmarks: Float32Array;
  params: FrameParams;
  /** per-pixel Label (0 = background), when asked for */
  labels?: Uint8Array;
}

const enum Mat {
  None = 0,
  Head = 1,
  Neck = 2,
  Torso = 3,
  HairBack = 4,
}

interface Mesh {
  /** screen x, y, depth (larger = nearer) per vertex */
  sx: Float32Array;
  sy: Float32Array;
  sz: Float32Array;
  /** world normal */
  nx: Float32Array;
  ny: Float32Array;
  nz: Float32Array;
  /** surface coordinates */
  u: Float32Array;
  v: Float32Array;
  tris: Uint32Array;
  mat: Mat;
}

const CAMERA_DIST = 8;

interface Camera {
  f: number;
  cx: number;
  cy: number;
}

/** Rotation (yaw about y, then pitch about x, then roll about z), scale and translation. */
class Pose {
  readonly m: number[];
  constructor(
    yaw: number,
    pitch: number,
    roll: number,
    readonly s: number,
    readonly tx: number,
    readonly ty: number,
    readonly tz = 0,
  ) {
    const [cy, sy, cp, sp, cr, sr] = [
      Math.cos(yaw),
      Math.sin(yaw),
      Math.cos(pitch),
      Math.sin(pitch),
      Math.cos(roll),
      Math.sin(roll),
    ];
    // R = Rz(roll) Rx(pitch) Ry(yaw)
    const ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
    const rx = [1, 0, 0, 0, cp, -sp, 0, sp, cp];
    const rz = [cr, -sr, 0, sr, cr, 0, 0, 0, 1];
    this.m = mul3(rz, mul3(rx, ry));
  }
  apply(p: ArrayLike<number>, out: number[]): void {
    const m = this.m;
    const [x, y, z] = [p[0]!, p[1]!, p[2]!];
    out[0] = this.s * (m[0]! * x + m[1]! * y + m[2]! * z) + this.tx;
    out[1] = this.s * (m[3]! * x + m[4]! * y + m[5]! * z) + this.ty;
    out[2] = this.s * (m[6]! * x + m[7]! * y + m[8]! * z) + this.tz;
  }
  rotate(n: ArrayLike<number>, out: number[]): void {
    const m = this.m;
    const [x, y, z] = [n[0]!, n[1]!, n[2]!];
    out[0] = m[0]! * x + m[1]! * y + m[2]! * z;
    out[1] = m[3]! * x + m[4]! * y + m[5]! * z;
    out[2] = m[6]! * x + m[7]! * y + m[8]! * z;
  }
}

function mul3(a: number[], b: number[]): number[] {
  const o = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) o[i * 3 + j]! += a[i * 3 + k]! * b[k * 3 + j]!;
  return o;
}

function project(cam: Camera, p: number[], out: number[]): void {
  const w = CAMERA_DIST - p[2]!;
  out[0] = cam.cx + (cam.f * p[0]!) / w;
  out[1] = cam.cy - (cam.f * p[1]!) / w;
  out[2] = p[2]!;
}

/**
 * A (u, v) grid mesh of a parametric surface: `pt(u, v, out)` gives head/world points before `pose`.
 * Normals come from the grid's finite differences. Winding keeps front faces at negative screen area.
 */
function allocMesh(mat: Mat, nu: number, nv: number): Mesh & { P: Float64Array } {
  const n = nu * nv;
  const mesh = {
    sx: new Float32Array(n),
    sy: new Float32Array(n),
    sz: new Float32Array(n),
    nx: new Float32Array(n),
    ny: new Float32Array(n),
    nz: new Float32Array(n),
    u: new Float32Array(n),
    v: new Float32Array(n),
    tris: new Uint32Array((nu - 1) * (nv - 1) * 6),
    mat,
    P: new Float64Array(n * 3),
  };
  let t = 0;
  for (let j = 0; j < nv - 1; j++) {
    for (let i = 0; i < nu - 1; i++) {
      const a = j * nu + i;
      const b = a + 1;
      const c = a + nu;
      const d = c + 1;
      mesh.tris[t++] = a;
      mesh.tris[t++] = b;
      mesh.tris[t++] = c;
      mesh.tris[t++] = b;
      mesh.tris[t++] = d;
      mesh.tris[t++] = c;
    }
  }
  return mesh;
}

/**
 * Fills `mesh` (from allocMesh) with a (u, v) grid of a parametric surface: `pt(u, v, out)` gives
 * points before `pose`. Normals come from the grid's finite differences. Winding keeps front faces
 * at negative screen area.
 */
function gridMesh(
  mesh: Mesh & { P: Float64Array },
  us: Float32Array,
  vs: Float32Array,
  pt: (u: number, v: number, out: Float64Array) => void,
  pose: Pose,
  cam: Camera,
): Mesh {
  const nu = us.length;
  const nv = vs.length;
  const P = mesh.P;
  for (let j = 0; j < nv; j++) for (let i = 0; i < nu; i++) pt(us[i]!, vs[j]!, P.subarray((j * nu + i) * 3));
  const w = [0, 0, 0];
  const s = [0, 0, 0];
  const nrm = [0, 0, 0];
  for (let j = 0; j < nv; j++) {
    for (let i = 0; i < nu; i++) {
      const k = j * nu + i;
      const i0 = Math.max(0, i - 1);
      const i1 = Math.min(nu - 1, i + 1);
      const j0 = Math.max(0, j - 1);
      const j1 = Math.min(nv - 1, j + 1);
      const a = (j * nu + i1) * 3;
      const b = (j * nu + i0) * 3;
      const c = (j1 * nu + i) * 3;
      const d = (j0 * nu + i) * 3;
      const du = [P[a]! - P[b]!, P[a + 1]! - P[b + 1]!, P[a + 2]! - P[b + 2]!];
      const dv = [P[c]! - P[d]!, P[c + 1]! - P[d + 1]!, P[c + 2]! - P[d + 2]!];
      // outward normal = dP/du x dP/dv for this parametrisation
      let nx = du[1]! * dv[2]! - du[2]! * dv[1]!;
      let ny = du[2]! * dv[0]! - du[0]! * dv[2]!;
      let nz = du[0]! * dv[1]! - du[1]! * dv[0]!;
      const len = Math.sqrt(nx * nx + ny * ny + nz * nz);
      if (len > 1e-12) {
        nx /= len;
        ny /= len;
        nz /= len;
      } else {
        // poles: point away from the centre
        const pl = Math.sqrt(P[k * 3]! ** 2 + P[k * 3 + 1]! ** 2 + P[k * 3 + 2]! ** 2) || 1;
        nx = P[k * 3]! / pl;
        ny = P[k * 3 + 1]! / pl;
        nz = P[k * 3 + 2]! / pl;
      }
      pose.rotate([nx, ny, nz], nrm);
      pose.apply(P.subarray(k * 3, k * 3 + 3), w);
      project(cam, w, s);
      mesh.sx[k] = s[0]!;
      mesh.sy[k] = s[1]!;
      mesh.sz[k] = s[2]!;
      mesh.nx[k] = nrm[0]!;
      mesh.ny[k] = nrm[1]!;
      mesh.nz[k] = nrm[2]!;
      mesh.u[k] = us[i]!;
      mesh.v[k] = vs[j]!;
    }
  }
  return mesh;
}

/** Samples denser near 0: t in [-1, 1] -> range * sign(t) |t|^p. */
function spaced(n: number, range: number, p: number, offset = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = -1 + (2 * i) / (n - 1);
    a[i] = offset + range * Math.sign(t) * Math.pow(Math.abs(t), p);
  }
  return a;
}

/** The G-buffer: nearest triangle per pixel with its barycentrics. */
class GBuffer {
  readonly depth: Float32Array;
  readonly mesh: Int8Array;
  readonly tri: Int32Array;
  readonly b1: Float32Array;
  readonly b2: Float32Array;
  constructor(readonly n: number) {
    this.depth = new Float32Array(n * n);
    this.mesh = new Int8Array(n * n);
    this.tri = new Int32Array(n * n);
    this.b1 = new Float32Array(n * n);
    this.b2 = new Float32Array(n * n);
    this.clear();
  }

  clear(): void {
    this.depth.fill(-Infinity);
    this.mesh.fill(-1);
  }

  draw(m: Mesh, meshIndex: number): void {
    const n = this.n;
    const { sx, sy, sz, tris } = m;
    for (let t = 0; t < tris.length; t += 3) {
      const i0 = tris[t]!;
      const i1 = tris[t + 1]!;
      const i2 = tris[t + 2]!;
      const x0 = sx[i0]!;
      const y0 = sy[i0]!;
      const x1 = sx[i1]!;
      const y1 = sy[i1]!;
      const x2 = sx[i2]!;
      const y2 = sy[i2]!;
      const area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0);
      if (area >= -1e-9) continue; // back face or degenerate
      const minX = Math.max(0, Math.floor(Math.min(x0, x1, x2)));
      const maxX = Math.min(n - 1, Math.ceil(Math.max(x0, x1, x2)));
      const minY = Math.max(0, Math.floor(Math.min(y0, y1, y2)));
      const maxY = Math.min(n - 1, Math.ceil(Math.max(y0, y1, y2)));
      if (minX > maxX || minY > maxY) continue;
      const inv = 1 / area;
      const z0 = sz[i0]!;
      const z1 = sz[i1]!;
      const z2 = sz[i2]!;
      for (let y = minY; y <= maxY; y++) {
        const py = y + 0.5;
        for (let x = minX; x <= maxX; x++) {
          const px = x + 0.5;
          // barycentrics (area < 0, so all weights are >= 0 inside)
          const w1 = ((px - x0) * (y2 - y0) - (py - y0) * (x2 - x0)) * inv;
          const w2 = ((x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)) * inv;
          const w0 = 1 - w1 - w2;
          if (w0 < 0 || w1 < 0 || w2 < 0) continue;
          const z = w0 * z0 + w1 * z1 + w2 * z2;
          const k = y * n + x;
          if (z <= this.depth[k]!) continue;
          this.depth[k] = z;
          this.mesh[k] = meshIndex;
          this.tri[k] = t;
          this.b1[k] = w1;
          this.b2[k] = w2;
        }
      }
    }
  }
}

function background(id: Identity, noise: Noise, n: number): Float32Array {
  const out = new Float32Array(n * n * 3);
  const [a, b] = id.background;
  for (let y = 0; y < n; y++) {
    const t = y / (n - 1);
    for (let x = 0; x < n; x++) {
      const k = (y * n + x) * 3;
      const s =
        0.08 * noise.at((x / n) * 5 + 31, (y / n) * 5 + 17) + 0.03 * noise.at((x / n) * 30, (y / n) * 30);
      out[k] = (a[0] + (b[0] - a[0]) * t) * (1 + s);
      out[k + 1] = (a[1] + (b[1] - a[1]) * t) * (1 + s);
      out[k + 2] = (a[2] + (b[2] - a[2]) * t) * (1 + s);
    }
  }
  return out;
}

interface Stroke {
  pts: number[];
  closed: boolean;
  width: number;
}

/** Alpha-blended anti-aliased polylines of one colour (glasses frames) on a float RGB image. */
function strokeBlend(img: Float32Array, n: number, strokes: Stroke[], c: RGB): void {
  const cover = new Float32Array(n * n);
  for (const { pts, closed, width } of strokes) {
    const r = width / 2;
    const m = pts.length / 2;
    const segs = closed ? m : m - 1;
    for (let s = 0; s < segs; s++) {
      const ax = pts[2 * s]!;
      const ay = pts[2 * s + 1]!;
      const bx = pts[2 * ((s + 1) % m)]!;
      const by = pts[2 * ((s + 1) % m) + 1]!;
      const dx = bx - ax;
      const dy = by - ay;
      const len2 = dx * dx + dy * dy || 1e-12;
      const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - r - 1));
      const x1 = Math.min(n - 1, Math.ceil(Math.max(ax, bx) + r + 1));
      const y0 = Math.max(0, Math.floor(Math.min(ay, by) - r - 1));
      const y1 = Math.min(n - 1, Math.ceil(Math.max(ay, by) + r + 1));
      for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
          const px = x + 0.5;
          const py = y + 0.5;
          let t = ((px - ax) * dx + (py - ay) * dy) / len2;
          t = t < 0 ? 0 : t > 1 ? 1 : t;
          const ex = px - ax - t * dx;
          const ey = py - ay - t * dy;
          const cov = Math.min(1, Math.max(0, r + 0.5 - Math.sqrt(ex * ex + ey * ey)));
          const k = y * n + x;
          if (cov > cover[k]!) cover[k] = cov;
        }
      }
    }
  }
  for (let k = 0; k < n * n; k++) {
    const a = cover[k]!;
    if (a === 0) continue;
    for (let ch = 0; ch < 3; ch++) img[k * 3 + ch] = img[k * 3 + ch]! * (1 - a) + c[ch]! * a;
  }
}

/** Box-filter downsampling by `ss` per axis. */
function downsample(hi: Float32Array, n: number, ss: number, out: Float32Array): void {
  const size = n / ss;
  const norm = 1 / (ss * ss);
  out.fill(0);
  for (let y = 0; y < n; y++) {
    const oy = ((y / ss) | 0) * size;
    for (let x = 0; x < n; x++) {
      const o = (oy + ((x / ss) | 0)) * 3;
      const i = (y * n + x) * 3;
      out[o]! += hi[i]! * norm;
      out[o + 1]! += hi[i + 1]! * norm;
      out[o + 2]! += hi[i + 2]! * norm;
    }
  }
}

/**
 * Cheap anti-aliasing without supersampling: pixels on an object boundary (their right or lower
 * neighbour shows another mesh) are averaged with their four neighbours.
 */
function smoothEdges(img: Float32Array, gb: GBuffer, n: number, out: Float32Array): void {
  out.set(img);
  const m = gb.mesh;
  for (let y = 1; y < n - 1; y++) {
    for (let x = 1; x < n - 1; x++) {
      const k = y * n + x;
      const id = m[k]!;
      if (id === m[k + 1] && id === m[k + n] && id === m[k - 1] && id === m[k - n]) continue;
      for (let c = 0; c < 3; c++) {
        out[k * 3 + c] =
          0.5 * img[k * 3 + c]! +
          0.125 *
            (img[(k - 1) * 3 + c]! + img[(k + 1) * 3 + c]! + img[(k - n) * 3 + c]! + img[(k + n) * 3 + c]!);
      }
    }
  }
}

function neckSurface(u: number, v: number, o: Float64Array): void {
  o[0] = 0.36 * Math.sin(u);
  o[1] = v;
  o[2] = 0.33 * Math.cos(u) - 0.12;
}

function torsoSurface(u: number, v: number, o: Float64Array): void {
  o[0] = 1.55 * Math.sin(u) * Math.cos(v);
  o[1] = -2.75 + 0.95 * Math.sin(v);
  o[2] = 0.65 * Math.cos(u) * Math.cos(v) - 0.25;
}

function grid(mat: Mat, us: Float32Array, vs: Float32Array) {
  return { us, vs, mesh: allocMesh(mat, us.length, vs.length) };
}

export interface RenderOptions {
  /** supersampling factor per axis (2 = 4 samples per pixel); 1 (default) smooths object edges only */
  supersample?: number;
  /** also return the per-pixel label map */
  labels?: boolean;
}

/** Renders frames of one (seed, identity); caches what does not change between frames. */
export class HeadRenderer {
  readonly id: Identity;
  private readonly noise: Noise;
  private bgCache = new Map<number, Float32Array>();
  private scripts = new Map<number, Script>();
  private bufferCache = new Map<number, { gb: GBuffer; hi: Float32Array; img: Float32Array }>();
  // Mesh topology and storage are reused across frames; only vertex positions change.
  private readonly grids = {
    head: grid(Mat.Head, spaced(65, Math.PI, 1.4), spaced(45, Math.PI / 2, 1.2)),
    neck: grid(Mat.Neck, spaced(25, Math.PI, 1), spaced(9, 1.1, 1, -1.55)),
    torso: grid(Mat.Torso, spaced(33, Math.PI, 1), spaced(17, Math.PI / 2, 1)),
    hair: grid(Mat.HairBack, spaced(33, Math.PI, 1), spaced(17, Math.PI / 2, 1)),
  };

  private buffers(n: number, size: number) {
    let b = this.bufferCache.get(n);
    if (!b) {
      b = { gb: new GBuffer(n), hi: new Float32Array(n * n * 3), img: new Float32Array(size * size * 3) };
      this.bufferCache.set(n, b);
    }
    return b;
  }

  constructor(
    readonly seed: number,
    readonly identity: number,
  ) {
    this.id = identityParams(seed, identity);
    this.noise = Head.noiseFor(this.id);
  }

  script(sequence: number): Script {
    let s = this.scripts.get(sequence);
    if (!s) {
      s = sequenceScript(this.seed, this.identity, sequence);
      this.scripts.set(sequence, s);
    }
    return s;
  }

  render(sequence: number, frame: number, size: number, opts: RenderOptions = {}): RenderedFrame {
    return this.renderWith(frameParams(this.script(sequence), frame), size, opts);
  }

  renderWith(f: FrameParams, size: number, opts: RenderOptions = {}): RenderedFrame {
    if (!Number.isInteger(size) || size < 16)
      throw new RangeError(`render size must be an integer >= 16, got ${size}`);
    const ss = opts.supersample ?? 1;
    const n = size * ss;
    const id = this.id;
    const head = new Head(id, f, this.noise);
    const cam: Camera = { f: n * CAMERA_DIST * 0.42, cx: n / 2, cy: n * 0.45 };
    const headPose = new Pose(f.yaw, f.pitch, f.roll, f.scale, f.tx, f.ty + 0.05);
    // The body turns a little with the head.
    const bodyPose = new Pose(f.yaw * 0.25, 0, f.roll * 0.3, f.scale, f.tx, f.ty);

    const g = this.grids;
    const meshes: Mesh[] = [
      gridMesh(g.head.mesh, g.head.us, g.head.vs, (u, v, o) => head.surface(u, v, o), headPose, cam),
      gridMesh(g.neck.mesh, g.neck.us, g.neck.vs, neckSurface, bodyPose, cam),
      gridMesh(g.torso.mesh, g.torso.us, g.torso.vs, torsoSurface, bodyPose, cam),
    ];
    if (id.hairStyle === 'long' || id.hairStyle === 'bob') {
      const lowY = id.hairStyle === 'long' ? 1.25 : 0.75;
      meshes.push(
        gridMesh(
          g.hair.mesh,
          g.hair.us,
          g.hair.vs,
          (u, v, o) => {
            o[0] = id.width * 1.12 * Math.sin(u) * Math.cos(v);
            o[1] = 0.1 + (v < 0 ? lowY : id.height * 1.05) * Math.sin(v);
            o[2] = 0.6 * Math.cos(u) * Math.cos(v) - 0.38;
          },
          headPose,
          cam,
        ),
      );
    }
    const buf = this.buffers(n, size);
    const gb = buf.gb;
    gb.clear();
    meshes.forEach((m, i) => gb.draw(m, i));

    // Shade.
    let bg = this.bgCache.get(n);
    if (!bg) {
      bg = background(id, this.noise, n);
      this.bgCache.set(n, bg);
    }
    const hi = buf.hi;
    hi.set(bg);
    const lx = id.light[0];
    const ly = id.light[1];
    const lz = id.light[2];
    // half vector for a viewer at +z
    let hx = lx;
    let hy = ly;
    let hz = lz + 1;
    const hl = Math.hypot(hx, hy, hz);
    hx /= hl;
    hy /= hl;
    hz /= hl;
    const sh: Shaded = { r: 0, g: 0, b: 0, spec: 0, label: 0 };
    const neck = shadeColor([id.skin[0] * 0.85, id.skin[1] * 0.82, id.skin[2] * 0.82], Label.Neck);
    const torso = shadeColor(id.clothes, Label.Body);
    const labelsHi = opts.labels ? new Uint8Array(n * n) : null;
    for (let k = 0; k < n * n; k++) {
      const mi = gb.mesh[k]!;
      if (mi < 0) continue;
      const m = meshes[mi]!;
      const t = gb.tri[k]!;
      const w1 = gb.b1[k]!;
      const w2 = gb.b2[k]!;
      const w0 = 1 - w1 - w2;
      const a = m.tris[t]!;
      const b = m.tris[t + 1]!;
      const c = m.tris[t + 2]!;
      let nx = w0 * m.nx[a]! + w1 * m.nx[b]! + w2 * m.nx[c]!;
      let ny = w0 * m.ny[a]! + w1 * m.ny[b]! + w2 * m.ny[c]!;
      let nz = w0 * m.nz[a]! + w1 * m.nz[b]! + w2 * m.nz[c]!;
      const nl = Math.sqrt(nx * nx + ny * ny + nz * nz) || 1;
      nx /= nl;
      ny /= nl;
      nz /= nl;
      let albedo: Shaded;
      if (m.mat === Mat.Head) {
        head.shade(
          w0 * m.u[a]! + w1 * m.u[b]! + w2 * m.u[c]!,
          w0 * m.v[a]! + w1 * m.v[b]! + w2 * m.v[c]!,
          sh,
        );
        albedo = sh;
      } else if (m.mat === Mat.HairBack) {
        const uu = w0 * m.u[a]! + w1 * m.u[b]! + w2 * m.u[c]!;
        const vv = w0 * m.v[a]! + w1 * m.v[b]! + w2 * m.v[c]!;
        const strand = 0.7 + 0.25 * this.noise.at(uu * 14, vv * 60);
        sh.r = id.hair[0] * strand;
        sh.g = id.hair[1] * strand;
        sh.b = id.hair[2] * strand;
        sh.spec = 0.4;
        sh.label = Label.Hair;
        albedo = sh;
      } else {
        albedo = m.mat === Mat.Neck ? neck : torso;
      }
      if (labelsHi) labelsHi[k] = albedo.label;
      const diff = Math.max(0, nx * lx + ny * ly + nz * lz);
      const lit = id.ambient + id.key * diff;
      // Blinn-Phong, exponent 24 by squaring: (h^3)^8
      const nh = Math.max(0, nx * hx + ny * hy + nz * hz);
      let p3 = nh * nh * nh;
      p3 *= p3;
      p3 *= p3;
      p3 *= p3;
      const sp = albedo.spec * 0.22 * p3;
      hi[k * 3] = albedo.r * lit + sp;
      hi[k * 3 + 1] = albedo.g * lit + sp;
      hi[k * 3 + 2] = albedo.b * lit + sp;
    }

    const img = buf.img;
    if (ss > 1) downsample(hi, n, ss, img);
    else smoothEdges(hi, gb, n, img);
    const outCam: Camera = { f: cam.f / ss, cx: cam.cx / ss, cy: cam.cy / ss };
    const w = [0, 0, 0];
    const p = [0, 0, 0];
    const toScreen = (hp: ArrayLike<number>): [number, number] => {
      headPose.apply(hp, w);
      project(outCam, w, p);
      return [p[0]!, p[1]!];
    };
    if (id.glasses) this.drawGlasses(head, img, size, toScreen);

    const uv = head.landmarkUV();
    const landmarks = new Float32Array(LANDMARK_VALUES);
    const q = new Float64Array(3);
    for (let i = 0; i < 68; i++) {
      head.surface(uv[2 * i]!, uv[2 * i + 1]!, q);
      const [x, y] = toScreen(q);
      landmarks[2 * i] = x;
      landmarks[2 * i + 1] = y;
    }
    const image = new Uint8Array(size * size * 3);
    for (let i = 0; i < image.length; i++) image[i] = Math.max(0, Math.min(255, Math.round(img[i]! * 255)));
    const out: RenderedFrame = { size, image, landmarks, params: f };
    if (labelsHi) {
      const labels = new Uint8Array(size * size);
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) labels[y * size + x] = labelsHi[y * ss * n + x * ss]!;
      out.labels = labels;
    }
    return out;
  }

  private drawGlasses(
    head: Head,
    img: Float32Array,
    size: number,
    toScreen: (p: ArrayLike<number>) => [number, number],
  ): void {
    const id = this.id;
    const q = new Float64Array(3);
    const strokes: Stroke[] = [];
    for (let side = -1; side <= 1; side += 2) {
      head.surface(side * id.eyeU, id.eyeV, q);
      const cx = q[0]!;
      const cy = q[1]!;
      const cz = q[2]! + 0.1;
      const pts: number[] = [];
      for (let k = 0; k < 28; k++) {
        const a = (2 * Math.PI * k) / 28;
        pts.push(...toScreen([cx + 0.21 * Math.cos(a), cy - 0.01 + 0.14 * Math.sin(a), cz]));
      }
      strokes.push({ pts, closed: true, width: size / 90 });
      // temple arm towards the ear
      strokes.push({
        pts: [
          ...toScreen([cx + side * 0.21, cy + 0.03, cz]),
          ...toScreen([side * id.width * 0.98, cy + 0.03, cz - 0.55]),
        ],
        closed: false,
        width: size / 110,
      });
    }
    head.surface(0, id.eyeV + 0.03, q);
    strokes.push({
      pts: [...toScreen([-0.13, q[1]!, q[2]! + 0.02]), ...toScreen([0.13, q[1]!, q[2]! + 0.02])],
      closed: false,
      width: size / 100,
    });
    strokeBlend(img, size, strokes, id.glasses!);
  }
}

/** Convenience: one frame of (seed, identity, sequence, frame). */
export function renderFrame(
  seed: number,
  identity: number,
  sequence: number,
  frame: number,
  size: number,
): RenderedFrame {
  return new HeadRenderer(seed, identity).render(sequence, frame, size);
}

export { hashSeed };
