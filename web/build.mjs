// Bundles the web client and the network view into dist/web (run by `npm run build` after tsc).
// Everything the pages load is served from there by the client agent and by `umbra up`: no CDN.
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, 'dist', 'web');
const common = { bundle: true, minify: true, format: 'esm', target: 'es2022', legalComments: 'none', logLevel: 'warning' };

for (const page of ['client', 'network']) {
  mkdirSync(join(out, page), { recursive: true });
  // app.js, plus chunk-<hash>.js files loaded on demand (the client's MIME parser, when a mail is opened).
  await build({ ...common, splitting: true, entryPoints: { app: join(root, 'web', page, 'main.ts') }, outdir: join(out, page), chunkNames: 'chunk-[hash]' });
  for (const file of ['index.html', 'app.css']) copyFileSync(join(root, 'web', page, file), join(out, page, file));
}
// The sanitiser alone, as a global, for the browser tests (test/web/sanitise.test.ts): the same code and DOMPurify as the client.
await build({ ...common, format: 'iife', globalName: 'umbraSanitise', entryPoints: [join(root, 'web', 'client', 'sanitise.ts')], outfile: join(out, 'test', 'sanitise.js') });
// The QR code reader likewise (test/web/qr-image.test.ts), with jsQR inlined.
await build({ ...common, format: 'iife', globalName: 'umbraQrImage', entryPoints: [join(root, 'web', 'client', 'qr-image.ts')], outfile: join(out, 'test', 'qr-image.js') });

const kib = (page, name) => (statSync(join(out, page, name)).size / 1024).toFixed(1);
const sizes = ['client', 'network'].map((page) => {
  const chunks = readdirSync(join(out, page)).filter((name) => name.startsWith('chunk-'));
  return `${page} ${kib(page, 'app.js')} KiB${chunks.length === 0 ? '' : ` + ${chunks.map((name) => `${kib(page, name)}`).join(' + ')} KiB on demand`}`;
});
console.log(`web: ${sizes.join(', ')} (minified)`);
