import { benchAez } from './aez.js';
import { benchDelivery } from './delivery.js';
import { benchE2e } from './e2e.js';
import { benchNet } from './net.js';
import { benchPir } from './pir.js';
import { benchPirRebuilds } from './pir-rebuilds.js';
import { benchPirReplication } from './pir-replication.js';
import { benchPrivacy } from './privacy.js';
import { benchSim } from './sim.js';
import { benchSphinx } from './sphinx.js';

/** `npm run bench -- NAME`: runs one benchmark; its JSON result is the last line printed. */
const benches: Record<string, () => Record<string, unknown> | Promise<Record<string, unknown>>> = {
  sphinx: benchSphinx,
  aez: benchAez,
  e2e: benchE2e,
  pir: benchPir,
  'pir-rebuilds': benchPirRebuilds,
  'pir-replication': benchPirReplication,
  net: benchNet,
  privacy: benchPrivacy,
  sim: benchSim,
  delivery: benchDelivery,
};

const name = process.argv[2];
const run = name === undefined ? undefined : benches[name];
if (run === undefined) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}>`);
  process.exit(2);
}
const result = await run();
console.log(JSON.stringify(result));
