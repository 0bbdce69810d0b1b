import type { BackendName } from '../crypto/index.js';
import { MAX_HOPS_LIMIT, SUITE_NAMES } from '../sphinx/index.js';
import { runDemo, type DemoOptions } from './demo.js';
import { formatDemoReport } from './demo-format.js';
import { DEMO_HOPS, DEMO_SUITE } from './demo-geometry.js';
import { EXIT_FAILED, EXIT_OK } from './errors.js';
import { choice, integer, parseOptions } from './parse.js';

const BACKENDS: readonly BackendName[] = ['sodium', 'noble'];

export function parseDemoOptions(args: readonly string[]): DemoOptions & { json: boolean } {
  const values = parseOptions('demo', args, {
    suite: { type: 'string' },
    backend: { type: 'string' },
    hops: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  });
  return {
    suite: choice('suite', values.suite, SUITE_NAMES, DEMO_SUITE),
    backend: choice('backend', values.backend, BACKENDS, 'sodium'),
    hops: integer('hops', values.hops, 1, MAX_HOPS_LIMIT, DEMO_HOPS),
    seed: integer('seed', values.seed, 0, Number.MAX_SAFE_INTEGER),
    json: values.json === true,
  };
}

/** `umbra demo`: exit 0 when every check passed, 1 otherwise. */
export function demoCommand(args: readonly string[]): number {
  const { json, ...options } = parseDemoOptions(args);
  const report = runDemo(options);
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatDemoReport(report)}\n`);
  return report.ok ? EXIT_OK : EXIT_FAILED;
}
