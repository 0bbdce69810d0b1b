import type { BackendName } from '../../crypto/index.js';
import { MAX_HOPS_LIMIT, SUITE_NAMES } from '../../sphinx/index.js';
import { runSphinxWalk, type SphinxWalkOptions } from './walk.js';
import { formatSphinxWalkReport } from './report-text.js';
import { WALK_HOPS, WALK_SUITE } from './defaults.js';
import { EXIT_FAILED, EXIT_OK } from '../errors.js';
import { choice, integer, parseOptions } from '../parse.js';

const BACKENDS: readonly BackendName[] = ['sodium', 'noble'];

export function parseSphinxWalkOptions(args: readonly string[]): SphinxWalkOptions & { json: boolean } {
  const values = parseOptions('sphinx-walk', args, {
    suite: { type: 'string' },
    backend: { type: 'string' },
    hops: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
  });
  return {
    suite: choice('suite', values.suite, SUITE_NAMES, WALK_SUITE),
    backend: choice('backend', values.backend, BACKENDS, 'sodium'),
    hops: integer('hops', values.hops, 1, MAX_HOPS_LIMIT, WALK_HOPS),
    seed: integer('seed', values.seed, 0, Number.MAX_SAFE_INTEGER),
    json: values.json === true,
  };
}

/** `umbra sphinx-walk`: exit 0 when every check passed, 1 otherwise. */
export function sphinxWalkCommand(args: readonly string[]): number {
  const { json, ...options } = parseSphinxWalkOptions(args);
  const report = runSphinxWalk(options);
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatSphinxWalkReport(report)}\n`);
  return report.ok ? EXIT_OK : EXIT_FAILED;
}
