import { removeApiEndpoint, startApiServer, startBridge, startClient, writeApiEndpoint, type ApiServer, type Bridge, type ClientAgent } from '../client/index.js';
import { DEMO_PASSPHRASE } from './demo.js';
import type { Testnet } from './up.js';

/**
 * `umbra up --web`: the demo users' agents run inside `umbra up`, each with its API, web client
 * and mail bridge (IMAP and SMTP, docs/bridge.md) on 127.0.0.1, as `umbra client --dir DIR run` would run them (docs/web.md). Their `api.json` is
 * written, so the other `umbra client` commands and the network view find them.
 */
export interface WebAgent {
  readonly name: string;
  readonly dir: string;
  readonly url: string;
  readonly token: string;
  /** The mail bridge on 127.0.0.1 (STARTTLS both): ports, user name and password for a mail program. */
  readonly imapPort: number;
  readonly smtpPort: number;
  readonly username: string;
  readonly password: string;
}

export interface WebAgents {
  readonly agents: readonly WebAgent[];
  close(): Promise<void>;
}

export async function startWebAgents(net: Testnet): Promise<WebAgents> {
  const running: { agent: ClientAgent; api: ApiServer; bridge: Bridge; dir: string; username: string; password: string }[] = [];
  const close = async (): Promise<void> => {
    for (const { agent, api, bridge, dir } of running.splice(0)) {
      removeApiEndpoint(dir, process.pid);
      await api.close();
      await bridge.close();
      await agent.close().catch(() => undefined);
    }
  };
  try {
    for (const user of net.file.users) {
      const agent = await startClient(user.dir, DEMO_PASSPHRASE);
      let bridge: Bridge | undefined;
      const started = await (async () => {
        bridge = await startBridge({ agent });
        const endpoints = bridge.endpoints;
        return { api: await startApiServer({ agent, token: agent.apiToken(), bridge: () => endpoints }), credentials: await agent.bridgeCredentials() };
      })().catch(async (error: unknown) => {
        await bridge?.close();
        await agent.close();
        throw error;
      });
      const { api, credentials } = started;
      running.push({ agent, api, bridge: bridge!, dir: user.dir, username: credentials.username, password: credentials.password });
      writeApiEndpoint(user.dir, { url: api.url, token: agent.apiToken(), pid: process.pid });
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    agents: running.map(({ agent, api, bridge, dir, username, password }) => ({
      name: agent.name, dir, url: `${api.url}/`, token: agent.apiToken(),
      imapPort: bridge.endpoints.imap.port, smtpPort: bridge.endpoints.smtp.port, username, password,
    })),
    close,
  };
}
