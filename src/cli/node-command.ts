import { toBase64Url } from '../codec/bytes.js';
import { mirrorUrlOf, NodeConfigError, startNode, validateNodeConfig } from '../node/runtime/index.js';
import { UsageError } from './errors.js';
import { nodeLogOf } from './process-log.js';
import { serveFromConfig } from './serve.js';

/** `umbra mix|gateway|provider --config FILE [--log-level L]`: one node of a real deployment (docs/nodes.md). */
export function nodeCommand(role: 'mix' | 'gateway' | 'provider', args: readonly string[]): Promise<number> {
  return serveFromConfig(role, args, async (text, logger) => {
    let config;
    try {
      config = validateNodeConfig(text);
    } catch (error) {
      if (error instanceof NodeConfigError) throw new UsageError(`${role}: ${error.message}`);
      throw error;
    }
    if (config.role !== role) throw new UsageError(`${role}: the config is for a ${config.role}`);
    const node = await startNode(config, { log: nodeLogOf(logger.child({ node: config.name })) });
    return {
      ready: {
        role: node.role,
        name: node.name,
        layer: node.layer,
        nodeId: toBase64Url(node.nodeId),
        linkPort: node.linkPort,
        wsUrl: node.wsUrl,
        metricsUrl: node.metricsUrl,
        mirrorUrl: mirrorUrlOf(node),
      },
      close: () => node.close(),
    };
  });
}
