/** The native backend's kernels, family by family (kernels.ts puts the table together): pooling (and the average pool's gradient) and resizing (and their gradients). */
import type { AvgPoolAttrs as PoolAttrs, KernelFunc } from '@tensorflow/tfjs-core';
import {
  backend_util,
  type Cpu,
  isF32,
  type KernelContext,
  util,
  vals,
  windowParams,
} from './kernel_util.js';
import { alloc } from './pool.js';

export function windowKernels({ A, fallback }: KernelContext): Record<string, KernelFunc> {
  const out: Record<string, KernelFunc> = {};
  const poolParams = (shape: number[], a: PoolAttrs) => {
    const ci = backend_util.computePool2DInfo(
      shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    return { ci, params: windowParams(ci, false) };
  };
  // Forward pooling; the average pool's gradient is below, the max pool's stays JavaScript (arg-max).
  const pools: [string, (x: Float32Array, y: Float32Array, p: Int32Array) => void][] = [
    ['AvgPool', (x, y, p) => A.avgPool(x, y, p, false)],
    ['MaxPool', (x, y, p) => A.maxPool(x, y, p)],
  ];
  for (const [name, run] of pools) {
    out[name] = (args) => {
      const be = args.backend as Cpu;
      const x = args.inputs['x']!;
      if (!isF32(x)) return fallback(name, args);
      const { ci, params } = poolParams([...x.shape], args.attrs as unknown as PoolAttrs);
      const y = alloc(util.sizeFromShape(ci.outShape));
      run(vals(be, x), y, params);
      return be.makeTensorInfo(ci.outShape, 'float32', y);
    };
  }
  out['AvgPoolGrad'] = (args) => {
    const be = args.backend as Cpu;
    const dy = args.inputs['dy']!;
    const input = args.inputs['input']!;
    const { params } = poolParams([...input.shape], args.attrs as unknown as PoolAttrs);
    const dx = alloc(util.sizeFromShape(input.shape));
    A.avgPool(vals(be, dy), dx, params, true);
    return be.makeTensorInfo([...input.shape], 'float32', dx);
  };
  for (const [name, bilinear] of [
    ['ResizeBilinear', true],
    ['ResizeNearestNeighbor', false],
  ] as const) {
    out[name] = (args) => {
      const be = args.backend as Cpu;
      const images = args.inputs['images']!;
      const { size, alignCorners, halfPixelCenters } = args.attrs as unknown as {
        size: [number, number];
        alignCorners: boolean;
        halfPixelCenters: boolean;
      };
      if (!isF32(images)) return fallback(name, args);
      const [n, h, w, c] = images.shape as [number, number, number, number];
      const y = alloc(n * size[0] * size[1] * c);
      A.resize(
        bilinear,
        false,
        vals(be, images),
        y,
        new Int32Array([n, h, w, c, size[0], size[1]]),
        alignCorners,
        halfPixelCenters,
      );
      return be.makeTensorInfo([n, size[0], size[1], c], 'float32', y);
    };
    out[`${name}Grad`] = (args) => {
      const be = args.backend as Cpu;
      const images = args.inputs['images']!;
      const dy = args.inputs['dy']!;
      const { alignCorners, halfPixelCenters } = args.attrs as unknown as {
        alignCorners: boolean;
        halfPixelCenters: boolean;
      };
      const [n, h, w, c] = images.shape as [number, number, number, number];
      const dx = alloc(n * h * w * c);
      A.resize(
        bilinear,
        true,
        vals(be, dy),
        dx,
        new Int32Array([n, h, w, c, dy.shape[1]!, dy.shape[2]!]),
        alignCorners,
        halfPixelCenters,
      );
      return be.makeTensorInfo([n, h, w, c], 'float32', dx);
    };
  }
  return out;
}
