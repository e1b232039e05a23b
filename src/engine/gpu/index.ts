export { createWebGpuOps, WebGpuUnavailableError, type WebGpuOptions } from './create.ts';
export { WebGpuOps, type GpuTensor, type GpuWeight, type WebGpuInfo } from './webgpu-ops.ts';
export { createWebGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from './backend.ts';
