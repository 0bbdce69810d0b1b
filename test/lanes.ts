/**
 * `npm test`: every test file, two at a time (the machine's two cores), never two networks at once.
 * The long tests (test/long: minutes of epochs each) are not among them: `npm run test:long` runs
 * them with this runner (`node dist/test/lanes.js long`: the files under that folder only).
 *
 * A network file starts a whole network of node processes (`umbra up`): the files under
 * test/testnet and any other that imports src/testnet/up.ts. Their timing is real, and two of them
 * at once on two cores made each other late. So two slots take files from one queue: a free slot
 * takes the next network file when no network file runs, else the next other file. The network
 * files come first, in one slot after the other, while the other slot works through the rest.
 *
 * Each file runs in its own `node --test` process; its report is written whole when it ends (so
 * two reports never interleave), and a summary closes the run. A file still running after
 * FILE_LIMIT_MS is stuck (the slowest take about two minutes): its whole process group, the node
 * processes it started included, is killed and it counts as failed. The exit code is 1 when any
 * test failed or any file did not finish. The reports of failed files are printed once more just
 * before the summary, so that the tail of a long log shows what failed.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const SLOTS = 2;
/** The folder of the long tests: left out by default, the only one run when named. */
const LONG = 'long';
/** The folder to run (a folder of dist/test, e.g. `long`), from the first argument; default every file but the long ones. */
const folder = process.argv[2];
if (folder !== undefined && (folder.includes('..') || !statSync(join(here, folder), { throwIfNoEntry: false })?.isDirectory())) {
  process.stderr.write(`no test folder ${folder} under ${here}\n`);
  process.exit(2);
}
/** UMBRA_TEST_FILE_LIMIT_MS overrides it (to check this runner itself); a long test file may take 30 minutes. */
const FILE_LIMIT_MS = Number(process.env.UMBRA_TEST_FILE_LIMIT_MS ?? (folder === LONG ? 30 : 10) * 60_000);

function testFiles(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return folder === undefined && dir === here && name === LONG ? [] : testFiles(path);
    return name.endsWith('.test.js') ? [path] : [];
  });
}

interface FileResult {
  readonly file: string;
  readonly report: string;
  readonly code: number;
  readonly tests: number;
  readonly failed: number;
  readonly seconds: number;
}

/** The count after `# NAME ` in a node --test report (0 when absent). */
function countOf(report: string, name: string): number {
  const match = new RegExp(`^# ${name} (\\d+)$`, 'm').exec(report);
  return match === null ? 0 : Number(match[1]);
}

const children = new Set<ReturnType<typeof spawn>>();

function killGroup(child: ReturnType<typeof spawn>, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  const reporter = process.stdout.isTTY ? ['--test-reporter=spec'] : [];
  // Its own process group, so that a stuck file is killed with every process it started.
  const child = spawn(process.execPath, ['--test', ...reporter, file], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  const out: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => out.push(chunk));
  let stuck = false;
  const limit = setTimeout(() => {
    stuck = true;
    killGroup(child, 'SIGKILL');
  }, FILE_LIMIT_MS);
  // Whatever it left running goes with it (and its output pipe closes, which ends the report).
  child.on('exit', () => killGroup(child, 'SIGKILL'));
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(limit);
      children.delete(child);
      if (stuck) out.push(Buffer.from(`\n# STUCK: still running after ${FILE_LIMIT_MS / 60_000} min; killed with every process it started\n`));
      const report = Buffer.concat(out).toString('utf8');
      const name = relative(here, file);
      process.stdout.write(`\n# file ${name}\n${report}`);
      resolve({ file: name, report, code: stuck ? 1 : code ?? 1, tests: countOf(report, 'tests'), failed: countOf(report, 'fail'), seconds: (Date.now() - started) / 1000 });
    });
  });
}

const files = testFiles(folder === undefined ? here : join(here, folder));
const isNetwork = (file: string): boolean => ['testnet', LONG].includes(relative(here, file).split(sep)[0]) || readFileSync(file, 'utf8').includes('/testnet/up.js');
const networks = files.filter(isNetwork);
const others = files.filter((file) => !isNetwork(file));
let networkRunning = false;

/** The next file for a free slot, or undefined when this slot has nothing it may take now. */
function next(): { file: string; network: boolean } | undefined {
  if (!networkRunning && networks.length > 0) return { file: networks.shift()!, network: true };
  if (others.length > 0) return { file: others.shift()!, network: false };
  return undefined;
}

const results: FileResult[] = [];
async function slot(): Promise<void> {
  for (;;) {
    const job = next();
    if (job === undefined) {
      // Only network files are left and one runs: the other slot will take them in turn.
      return;
    }
    if (job.network) networkRunning = true;
    results.push(await runFile(job.file));
    if (job.network) networkRunning = false;
  }
}

const stop = (): void => {
  for (const child of children) killGroup(child, 'SIGINT');
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

const started = Date.now();
await Promise.all(Array.from({ length: SLOTS }, () => slot()));
const tests = results.reduce((sum, r) => sum + r.tests, 0);
const failedTests = results.reduce((sum, r) => sum + r.failed, 0);
const broken = results.filter((r) => r.code !== 0);
// A failed file's report again at the end, so that a log cut to its tail still shows what failed.
for (const r of broken) process.stdout.write(`\n# again, the report of failed file ${r.file}\n${r.report}`);
const slowest = [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 5).map((r) => `${r.file} ${r.seconds.toFixed(0)} s`);
process.stdout.write(`\n# all files: ${results.length}, tests ${tests}, failed ${failedTests}, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
process.stdout.write(`# slowest: ${slowest.join(', ')}\n`);
for (const r of broken) process.stdout.write(`# FAILED: ${r.file} (exit code ${r.code}, ${r.failed} failed tests)\n`);
process.exitCode = broken.length === 0 ? 0 : 1;
