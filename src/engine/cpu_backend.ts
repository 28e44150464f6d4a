/** What the JavaScript kernels use of tfjs-backend-cpu's backend (its typed-array storage). */
import type { TensorInfo } from '@tensorflow/tfjs-core';

export interface CpuBackend {
  data: { get(id: object): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}
