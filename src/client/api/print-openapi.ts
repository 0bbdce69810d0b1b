import { OPENAPI_DOCUMENT } from './openapi.js';

// `npm run docs:openapi` writes this to docs/api/openapi.json (a test keeps the two equal).
process.stdout.write(`${JSON.stringify(OPENAPI_DOCUMENT, null, 2)}\n`);
