export * from './errors.js';
export * from './mailbox.js';
export * from './migrations.js';
export * from './sqlite.js';
export * from './postgres.js';
