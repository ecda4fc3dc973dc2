import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export interface GpuInfo {
  /** GPUs visible to this process (nvidia-smi). */
  count: number;
  /** What ONNX Runtime sessions on this worker should use. */
  provider: 'cuda' | 'cpu';
  /** Why we fell back to the CPU, when we did: logged at start and reported by steps. */
  fallbackReason?: string;
}

function countNvidiaGpus(): number {
  try {
    const out = execFileSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter((l) => /^GPU \d+:/.test(l)).length;
  } catch {
    return 0;
  }
}

/** onnxruntime-node ships its CUDA provider as a separate library, installed only with CUDA files. */
function cudaProviderInstalled(): boolean {
  try {
    const req = createRequire(import.meta.url);
    const root = path.dirname(req.resolve('onnxruntime-node/package.json'));
    const binDir = path.join(root, 'bin');
    const stack = [binDir];
    while (stack.length) {
      const dir = stack.pop()!;
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) stack.push(path.join(dir, e.name));
        else if (e.name.startsWith('libonnxruntime_providers_cuda')) return true;
      }
    }
  } catch {
    /* not installed: CPU */
  }
  return false;
}

export function detectGpus(): GpuInfo {
  const count = countNvidiaGpus();
  if (count === 0) return { count, provider: 'cpu', fallbackReason: 'no NVIDIA GPU visible (nvidia-smi found none)' };
  if (!cudaProviderInstalled()) {
    return { count, provider: 'cpu', fallbackReason: `${count} GPU(s) visible but onnxruntime-node's CUDA provider is not installed` };
  }
  return { count, provider: 'cuda' };
}
