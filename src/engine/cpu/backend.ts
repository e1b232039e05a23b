import { CpuOps } from './ops.ts';
import type { EngineInfo } from '../engine.ts';

/** The scalar CPU backend with the description the engine reports. */
export class CpuBackend extends CpuOps {
  describe(): EngineInfo {
    return {
      kind: 'cpu',
      device: 'CPU (scalar)',
      features: [],
      maxBufferSize: Infinity,
      maxBindingSize: Infinity,
      threads: 1,
    };
  }
}
