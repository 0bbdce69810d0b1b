// Bundles the web client and the network view into dist/web (run by `npm run build` after tsc).
// Everything the pages load is served from there by the client agent and by `umbra up`: no CDN.
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, 'dist', 'web');
const common = { bundle: true, minify: true, format: 'esm', target: 'es2022', legalComments: 'none', logLevel: 'warning' };

for (const page of ['client', 'network']) {
  mkdirSync(join(out, page), { recursive: true });
  await build({ ...common, entryPoints: [join(root, 'web', page, 'main.ts')], outfile: join(out, page, 'app.js') });
  for (const file of ['index.html', 'app.css']) copyFileSync(join(root, 'web', page, file), join(out, page, file));
}
// The sanitiser alone, as a global, for the browser tests (test/web/sanitise.test.ts): the same code and DOMPurify as the client.
await build({ ...common, format: 'iife', globalName: 'umbraSanitise', entryPoints: [join(root, 'web', 'client', 'sanitise.ts')], outfile: join(out, 'test', 'sanitise.js') });

const sizes = ['client', 'network'].map((page) => `${page} ${(statSync(join(out, page, 'app.js')).size / 1024).toFixed(1)} KiB`);
console.log(`web: ${sizes.join(', ')} (minified)`);
