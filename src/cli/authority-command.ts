import { toBase64Url } from '../codec/bytes.js';
import { AuthorityConfigError, startAuthority, validateAuthorityConfig } from '../node/authority/index.js';
import { UsageError } from './errors.js';
import { nodeLogOf } from './process-log.js';
import { serveFromConfig } from './serve.js';

/** `umbra authority --config FILE [--log-level L]`: a directory authority (docs/pki.md). */
export function authorityCommand(args: readonly string[]): Promise<number> {
  return serveFromConfig('authority', args, async (text, logger) => {
    let config;
    try {
      config = validateAuthorityConfig(text);
    } catch (error) {
      if (error instanceof AuthorityConfigError) throw new UsageError(`authority: ${error.message}`);
      throw error;
    }
    // Votes, tallies, documents, refusals: JSON lines on stderr (the log file under umbra up).
    const handle = await startAuthority(config, { log: nodeLogOf(logger) });
    return { ready: { role: 'authority', url: handle.url, publicKey: toBase64Url(handle.publicKey) }, close: () => handle.close() };
  });
}
