import { removeApiEndpoint, startApiServer, startClient, writeApiEndpoint, type ApiServer, type ClientAgent } from '../client/index.js';
import { DEMO_PASSPHRASE } from './demo.js';
import type { Testnet } from './up.js';

/**
 * `umbra up --web`: the demo users' agents run inside `umbra up`, each with its API and web client
 * on 127.0.0.1, as `umbra client --dir DIR run` would run them (docs/web.md). Their `api.json` is
 * written, so the other `umbra client` commands and the network view find them.
 */
export interface WebAgent {
  readonly name: string;
  readonly dir: string;
  readonly url: string;
  readonly token: string;
}

export interface WebAgents {
  readonly agents: readonly WebAgent[];
  close(): Promise<void>;
}

export async function startWebAgents(net: Testnet): Promise<WebAgents> {
  const running: { agent: ClientAgent; api: ApiServer; dir: string }[] = [];
  const close = async (): Promise<void> => {
    for (const { agent, api, dir } of running.splice(0)) {
      removeApiEndpoint(dir, process.pid);
      await api.close();
      await agent.close().catch(() => undefined);
    }
  };
  try {
    for (const user of net.file.users) {
      const agent = await startClient(user.dir, DEMO_PASSPHRASE);
      const api = await startApiServer({ agent, token: agent.apiToken() }).catch(async (error: unknown) => {
        await agent.close();
        throw error;
      });
      running.push({ agent, api, dir: user.dir });
      writeApiEndpoint(user.dir, { url: api.url, token: agent.apiToken(), pid: process.pid });
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    agents: running.map(({ agent, api, dir }) => ({ name: agent.name, dir, url: `${api.url}/`, token: agent.apiToken() })),
    close,
  };
}
