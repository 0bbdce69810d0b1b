export { startApiServer, type ApiServer, type ApiServerOptions } from './server.js';
export { OPENAPI_DOCUMENT } from './openapi.js';
export { contactView, mailSummary, messageView } from './views.js';
export { API_FILE, readApiEndpoint, removeApiEndpoint, writeApiEndpoint, type ApiEndpoint } from './discovery.js';
