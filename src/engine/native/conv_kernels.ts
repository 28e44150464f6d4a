/** The native backend's kernels, family by family (kernels.ts puts the table together): convolutions (oneDNN, with the bias fused), depthwise convolution, inference batch norm. */
import type {
  Conv2DAttrs,
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  DepthwiseConv2dNativeAttrs,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs-core';
import { CONV_BIAS_KERNEL } from '../fused.js';
import {
  backend_util,
  convParams,
  type Cpu,
  isF32,
  type KernelContext,
  nhwc,
  util,
  vals,
  windowParams,
} from './kernel_util.js';
import { alloc } from './pool.js';

export function convKernels({ A, fallback }: KernelContext): Record<string, KernelFunc> {
  const out: Record<string, KernelFunc> = {};
  const convInfo = (
    xShape: readonly number[],
    filterShape: readonly number[],
    a: Conv2DAttrs | Conv2DBackpropFilterAttrs | Conv2DBackpropInputAttrs,
    dilations: Conv2DAttrs['dilations'],
  ) =>
    backend_util.computeConv2DInfo(
      xShape as never,
      filterShape as never,
      a.strides,
      dilations,
      a.pad,
      a.dimRoundingMode,
      false,
      nhwc(a.dataFormat),
    );
  // Conv2D, and conv + bias in one oneDNN primitive (src/nn/layers.ts's conv2d).
  const forward =
    (withBias: boolean): KernelFunc =>
    ({ inputs, backend, attrs }) => {
      const be = backend as Cpu;
      const { x, filter, bias } = inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo };
      const a = attrs as unknown as Conv2DAttrs;
      const ci = convInfo(x.shape, filter.shape, a, a.dilations);
      const y = alloc(util.sizeFromShape(ci.outShape));
      A.conv(0, vals(be, x), vals(be, filter), y, convParams(ci), withBias ? vals(be, bias!) : undefined);
      return be.makeTensorInfo(ci.outShape, 'float32', y);
    };
  out['Conv2D'] = forward(false);
  out[CONV_BIAS_KERNEL] = forward(true);
  out['Conv2DBackpropFilter'] = ({ inputs, backend, attrs }) => {
    const be = backend as Cpu;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as Conv2DBackpropFilterAttrs;
    const ci = convInfo(x.shape, a.filterShape, a, 1);
    const dw = alloc(util.sizeFromShape(a.filterShape));
    A.conv(2, vals(be, x), vals(be, dy), dw, convParams(ci));
    return be.makeTensorInfo([...a.filterShape], 'float32', dw);
  };
  out['Conv2DBackpropInput'] = ({ inputs, backend, attrs }) => {
    const be = backend as Cpu;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as Conv2DBackpropInputAttrs;
    const ci = convInfo(a.inputShape, filter.shape, a, 1);
    const dx = alloc(util.sizeFromShape(a.inputShape));
    A.conv(1, vals(be, dy), vals(be, filter), dx, convParams(ci));
    return be.makeTensorInfo([...a.inputShape], 'float32', dx);
  };
  // Depthwise convolution (MobileNets: face-api's detector and landmark net), channel multiplier 1.
  out['DepthwiseConv2dNative'] = (args) => {
    const be = args.backend as Cpu;
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const a = args.attrs as unknown as DepthwiseConv2dNativeAttrs;
    if (!isF32(x, filter) || filter.shape[3] !== 1) return fallback('DepthwiseConv2dNative', args);
    const ci = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      a.strides,
      a.dilations,
      a.pad,
      a.dimRoundingMode,
      true,
      nhwc(a.dataFormat),
    );
    const y = alloc(util.sizeFromShape(ci.outShape));
    A.depthwiseConv(vals(be, x), vals(be, filter), y, windowParams(ci, true));
    return be.makeTensorInfo(ci.outShape, 'float32', y);
  };
  // Inference batch norm (tf.batchNorm), parameters over the last axis or scalars.
  out['FusedBatchNorm'] = (args) => {
    const be = args.backend as Cpu;
    const { x, mean, variance, offset, scale } = args.inputs as Record<
      'x' | 'mean' | 'variance' | 'offset' | 'scale',
      TensorInfo | undefined
    >;
    const c = x!.shape[x!.shape.length - 1] ?? 1;
    const params = [mean, variance, offset, scale].filter((t): t is TensorInfo => t !== undefined);
    const fits = (t: TensorInfo) => {
      const n = util.sizeFromShape(t.shape);
      return (n === 1 || n === c) && t.shape.slice(0, -1).every((d) => d === 1);
    };
    if (!isF32(x!, ...params) || !params.every(fits)) return fallback('FusedBatchNorm', args);
    const y = alloc(util.sizeFromShape(x!.shape));
    const eps = (args.attrs as { varianceEpsilon: number }).varianceEpsilon;
    const v = (t: TensorInfo | undefined) => (t ? vals(be, t) : null);
    A.batchNorm(vals(be, x!), v(mean)!, v(variance)!, v(offset), v(scale), y, eps);
    return be.makeTensorInfo([...x!.shape], 'float32', y);
  };
  return out;
}
