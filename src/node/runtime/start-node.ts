import { startGateway, type GatewayHandle } from '../gateway/index.js';
import { startMix, type MixHandle } from '../mix/index.js';
import { startProvider, type ProviderDeps, type ProviderHandle } from '../provider/index.js';
import type { NodeConfig } from './config.js';

/** Starts whichever node `config.role` names (for the `umbra` command). */
export function startNode(config: NodeConfig, deps: ProviderDeps = {}): Promise<GatewayHandle | MixHandle | ProviderHandle> {
  switch (config.role) {
    case 'gateway':
      return startGateway(config, deps);
    case 'mix':
      return startMix(config, deps);
    case 'provider':
      return startProvider(config, deps);
    default:
      return Promise.reject(new Error(`unknown role ${String(config.role)}`));
  }
}
