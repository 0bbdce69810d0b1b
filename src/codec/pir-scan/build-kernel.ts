import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCAN_KERNEL_PATH } from './wasm-kernel.js';

/**
 * Builds the scan kernel from its source: assembles scan.wat with the `wabt` npm package (the
 * WebAssembly Binary Toolkit compiled to JavaScript; a devDependency) into scan.wasm beside the
 * compiled loader. Run after tsc: `node dist/src/codec/pir-scan/build-kernel.js`.
 */

/** The kernel's source in the repository (this module runs from dist/src/codec/pir-scan/). */
export const SCAN_KERNEL_SOURCE = fileURLToPath(new URL('../../../../src/codec/pir-scan/scan.wat', import.meta.url));

/** Assembles WebAssembly text with the SIMD and threads (shared memory) features. */
export async function assembleScanKernel(source: string = readFileSync(SCAN_KERNEL_SOURCE, 'utf8')): Promise<Uint8Array<ArrayBuffer>> {
  const wabt = await (await import('wabt')).default();
  const module = wabt.parseWat('scan.wat', source, { simd: true, threads: true });
  try {
    const binary = new Uint8Array(module.toBinary({}).buffer);
    if (!WebAssembly.validate(binary)) throw new Error('scan.wat assembled to an invalid module');
    return binary;
  } finally {
    module.destroy();
  }
}

/** Assembles scan.wat and writes scan.wasm; returns the path written. */
export async function buildScanKernel(target: string = SCAN_KERNEL_PATH): Promise<string> {
  const binary = await assembleScanKernel();
  mkdirSync(dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  writeFileSync(temporary, binary);
  renameSync(temporary, target); // atomic: a concurrent reader sees the old file or the new one
  return target;
}

/** Builds scan.wasm unless it is already there (for tests run without `npm run build`). */
export async function ensureScanKernel(target: string = SCAN_KERNEL_PATH): Promise<string> {
  return existsSync(target) ? target : buildScanKernel(target);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const path = await buildScanKernel();
  console.log(`scan kernel: ${path}`);
}
