import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fromBase64Url, toBase64Url } from '../codec/bytes.js';
import { getCrypto } from '../crypto/index.js';
import { fetchConsensus } from '../net/authority-client.js';
import { startNetworkView } from './network-view.js';
import { makePlan, withFreshPorts, type AuthorityPlan, type NetworkPlan, type NodePlan, type ParameterSet } from './plan.js';
import { MAX_PORT_MOVES, startMovingPorts, type MovingStart } from './port-moves.js';
import { osPortAllocator, type PortAllocator } from './ports.js';
import { startChild, stopChild, type Child } from './processes.js';
import { TestnetError } from './errors.js';
import { describeSupervision, Supervisor, type SupervisionEvent, type SupervisionPolicy } from './supervisor.js';
import type { AuthorityInfo, NetworkFile } from './network-file.js';
import type { MixAttack } from '../node/runtime/config.js';

/**
 * `umbra up`: a whole Umbra network on loopback in child processes (one authority or several voting
 * ones, a gateway, three mix layers of two, two providers), its data under one directory, and
 * `<dir>/network.json` describing it. Resolves once a consensus lists every node, so traffic can flow.
 */
export interface UpOptions {
  readonly dir: string;
  readonly epochMs?: number;
  readonly log?: (line: string) => void;
  /** Real-time limit for a node process to print its ready line, and for the first consensus (defaults: 20 s; 3 epochs + 10 s). */
  readonly readyTimeoutMs?: number;
  /** Restarts of nodes that die on their own (default: DEFAULT_SUPERVISION); events go to `onSupervision`, else to `log`. */
  readonly supervision?: SupervisionPolicy;
  readonly onSupervision?: (event: SupervisionEvent) => void;
  /** A new plan with one node per layer (makePlan's `minimal`): for tests of the authorities. */
  readonly minimalNodes?: boolean;
  /** Directory authorities for a new plan (default 1); a kept plan must have as many. */
  readonly authorities?: number;
  /** Test hook: these authorities vote dishonestly (an extra node, this mean delay; docs/pki.md, "Threat model"). */
  readonly dishonest?: readonly string[];
  readonly dishonestMeanDelayMs?: number;
  /**
   * Test hook: these mixes (by name) attack (src/node/mix/attacks.ts): 'n-1' forwards one packet
   * per epoch and drops the rest; 'spare-loops' drops what it cannot tell from mail.
   */
  readonly attacks?: Readonly<Record<string, MixAttack>>;
  /** Test hook: these mixes silently drop this fraction of what they forward (docs/network.md, "Reliability"). */
  readonly faultyMixes?: Readonly<Record<string, number>>;
  /** These nodes (by name) declare this bandwidth, packets per second (docs/network.md, "Measured bandwidth"); the rest the default. */
  readonly bandwidths?: Readonly<Record<string, number>>;
  /** A new plan's parameters (default `recommended`, the default consensus; `fast` for tests); a kept plan keeps its own. */
  readonly parameters?: ParameterSet;
  /** Overrides the plan's `reliability.mixLoopRate` (mix loops per second). */
  readonly mixLoopRate?: number;
  /**
   * Test hook: every gateway, mix and provider appends its packet events to `<dir>/<node>/packets.log`
   * (`recordPacketsForTests`, src/node/runtime/packet-record.ts), for src/sim/recorded-run.ts.
   */
  readonly recordPackets?: boolean;
  /** Where the ports of a new plan, and of a node moved off a taken port, come from (default: the OS; a test's hook). */
  readonly allocatePort?: PortAllocator;
}

/** Where a node records its packet events when `recordPackets` is set. */
export const packetLogOf = (dir: string, node: string): string => join(resolve(dir), node, 'packets.log');

export type { AuthorityInfo, NetworkFile } from './network-file.js';

export interface Testnet {
  readonly dir: string;
  readonly plan: NetworkPlan;
  readonly file: NetworkFile;
  /** The first authority's URL. */
  readonly authorityUrl: string;
  readonly authorities: readonly AuthorityInfo[];
  /** The live network view on 127.0.0.1 (docs/web.md). */
  readonly viewUrl: string;
  /** Sends a signal to one node's process (a test's fault injection). */
  kill(name: string, signal: NodeJS.Signals): Promise<void>;
  /** Starts a node again from its config (same keys, same ports). */
  restart(name: string): Promise<void>;
  /** The process ID of a node's current process (undefined when it is not running). */
  pidOf(name: string): number | undefined;
  /** No node is restarted from now on (a stop is under way: nodes that exit meanwhile are not failures). */
  stopRestarts(): void;
  stop(): Promise<void>;
}

export const DEFAULT_TESTNET_EPOCH_MS = 8_000;

const planPath = (dir: string): string => join(dir, 'plan.json');

function savePlan(dir: string, plan: NetworkPlan): void {
  writeFileSync(planPath(dir), `${JSON.stringify(plan, null, 2)}\n`, { mode: 0o600 });
}

/** The kept plan of `dir`, or a new one (`made`: nothing outside this run has seen its ports yet). */
function loadOrMakePlan(dir: string, epochMs: number, authorities: number | undefined, minimal: boolean, parameters: ParameterSet, allocate: PortAllocator): Promise<{ plan: NetworkPlan; made: boolean }> {
  const path = planPath(dir);
  if (existsSync(path)) {
    const plan = JSON.parse(readFileSync(path, 'utf8')) as NetworkPlan;
    if (plan.nodes.some((node) => typeof node.identitySeed !== 'string' || typeof node.family !== 'string') || !Array.isArray(plan.authorities)) {
      return Promise.reject(new TestnetError(`${path} predates voting authorities: remove ${dir} (or use --fresh) and run umbra up again`));
    }
    if (authorities !== undefined && plan.authorities.length !== authorities) {
      return Promise.reject(new TestnetError(`${path} has ${plan.authorities.length} authorities, not ${authorities}: use --fresh for a new network`));
    }
    return Promise.resolve({ plan, made: false });
  }
  return makePlan(getCrypto(), Date.now(), epochMs, authorities ?? 1, minimal, parameters, allocate).then((plan) => {
    savePlan(dir, plan);
    return { plan, made: true };
  });
}

/** The authority's API: TLS 1.3 only, its certificate carrying the authority's key (docs/links.md, "Authority API"). */
const urlOf = (authority: AuthorityPlan): string => `https://127.0.0.1:${authority.port}`;

function writeConfigs(dir: string, plan: NetworkPlan, options: UpOptions): void {
  const crypto = getCrypto();
  const keys = plan.authorities.map((authority) => authority.publicKey);
  for (const authority of plan.authorities) {
    const authorityDir = join(dir, authority.name);
    mkdirSync(authorityDir, { recursive: true });
    const dishonest = options.dishonest?.includes(authority.name) === true;
    writeFileSync(join(authorityDir, 'config.json'), JSON.stringify({
      listen: `127.0.0.1:${authority.port}`,
      identitySeed: authority.seed,
      authorities: keys,
      peers: plan.authorities.filter((peer) => peer !== authority).map((peer) => ({ publicKey: peer.publicKey, url: urlOf(peer) })),
      genesisMs: plan.genesisMs,
      epochMs: plan.epochMs,
      network: options.mixLoopRate === undefined ? plan.network : { ...plan.network, reliability: { ...plan.network.reliability, mixLoopRate: options.mixLoopRate } },
      dataDir: join(authorityDir, 'data'),
      allowedNodes: plan.nodes.map((node) => toBase64Url(crypto.ed25519PublicKey(fromBase64Url(node.identitySeed, 'identity seed', 32)))),
      // Loopback: a quarter of the default throughput probe measures it as well, for less CPU per short epoch.
      probeThroughputChunks: 4,
      ...(dishonest ? { dishonestVote: { extraNode: true, meanDelayMs: options.dishonestMeanDelayMs ?? 1 } } : {}),
    }, null, 2), { mode: 0o600 });
  }
  for (const node of plan.nodes) writeNodeConfig(dir, plan, node, options);
}

function writeNodeConfig(dir: string, plan: NetworkPlan, node: NodePlan, options: UpOptions): void {
  const keys = plan.authorities.map((authority) => authority.publicKey);
  const nodeDir = join(dir, node.name);
  mkdirSync(nodeDir, { recursive: true });
  writeFileSync(join(nodeDir, 'config.json'), JSON.stringify({
    role: node.role,
    name: node.name,
    family: node.family,
    identitySeed: node.identitySeed,
    layer: node.layer,
    linkPort: node.linkPort,
    ...(node.wsPort !== undefined ? { wsPort: node.wsPort } : {}),
    metricsPort: node.metricsPort,
    dataDir: join(nodeDir, 'data'),
    authorityUrls: plan.authorities.map(urlOf),
    authorities: keys,
    genesisMs: plan.genesisMs,
    epochMs: plan.epochMs,
    suite: plan.network.suite,
    geometry: plan.network.geometry,
    ...(options.attacks?.[node.name] === undefined ? {} : { attackForTests: options.attacks[node.name] }),
    ...(options.faultyMixes?.[node.name] === undefined ? {} : { testDropFraction: options.faultyMixes[node.name] }),
    ...(options.bandwidths?.[node.name] === undefined ? {} : { bandwidth: options.bandwidths[node.name] }),
    ...(options.recordPackets === true ? { recordPacketsForTests: packetLogOf(dir, node.name) } : {}),
  }, null, 2), { mode: 0o600 });
}

/** Waits until an authority serves a consensus, signed by a majority of them, that lists every node of the plan. */
async function waitForConsensus(plan: NetworkPlan, timeoutMs: number): Promise<void> {
  const crypto = getCrypto();
  const deadline = Date.now() + timeoutMs;
  const authorities = plan.authorities.map((authority) => fromBase64Url(authority.publicKey, 'authority key', 32));
  for (;;) {
    for (const authority of plan.authorities) {
      try {
        const current = await fetchConsensus(crypto, urlOf(authority), 'current', { authorities, nowMs: Date.now() });
        if (current !== undefined && current.doc.nodes.length === plan.nodes.length) return;
      } catch {
        // Not yet: the authorities vote once every layer has uploaded.
      }
    }
    if (Date.now() > deadline) throw new TestnetError('the network did not agree on a consensus in time (see the logs)');
    await new Promise((r) => setTimeout(r, 250));
  }
}

function roleOf(plan: NetworkPlan, name: string): string {
  if (plan.authorities.some((authority) => authority.name === name)) return 'authority';
  const node = plan.nodes.find((n) => n.name === name);
  if (node === undefined) throw new TestnetError(`no node ${name}`);
  return node.role;
}

const authorityInfos = (plan: NetworkPlan): AuthorityInfo[] =>
  plan.authorities.map((authority) => ({ name: authority.name, url: urlOf(authority), publicKey: authority.publicKey }));

/** `<dir>/network.json`: the plan as it came up (moved ports included) and what each node's ready line said. */
function writeNetworkFile(dir: string, plan: NetworkPlan, children: ReadonlyMap<string, Child>): NetworkFile {
  const authorities = authorityInfos(plan);
  const file: NetworkFile = {
    dir,
    genesisMs: plan.genesisMs,
    epochMs: plan.epochMs,
    authority: { url: authorities[0].url, publicKey: authorities[0].publicKey },
    authorities,
    nodes: plan.nodes.map((node) => {
      const ready = children.get(node.name)?.ready ?? {};
      // network.json is for reading, not a secret: the identity seed stays in plan.json (mode 0600).
      const { identitySeed: _secret, ...shown } = node;
      return { ...shown, nodeId: ready.nodeId as string, wsUrl: ready.wsUrl as string | undefined, metricsUrl: ready.metricsUrl as string, mirrorUrl: ready.mirrorUrl as string | undefined };
    }),
    users: plan.users.map((user) => ({ ...user, dir: join(dir, 'users', user.name) })),
  };
  writeFileSync(join(dir, 'network.json'), `${JSON.stringify(file, null, 2)}\n`);
  return file;
}

export async function up(options: UpOptions): Promise<Testnet> {
  const dir = resolve(options.dir);
  const log = options.log ?? (() => {});
  const allocate = options.allocatePort ?? osPortAllocator;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const loaded = await loadOrMakePlan(dir, options.epochMs ?? DEFAULT_TESTNET_EPOCH_MS, options.authorities, options.minimalNodes === true, options.parameters ?? 'recommended', allocate);
  // Moved off a taken port while the network comes up (the last change before anyone sees the plan).
  let plan = loaded.plan;
  const isAuthority = (name: string): boolean => plan.authorities.some((authority) => authority.name === name);
  writeConfigs(dir, plan, options);
  const logDir = join(dir, 'logs');
  const children = new Map<string, Child>();
  const onSupervision = options.onSupervision ?? ((event: SupervisionEvent) => log(describeSupervision(event)));
  const supervisor = new Supervisor((name) => start(name), onSupervision, options.supervision);
  const stopAll = async (): Promise<void> => {
    supervisor.stop();
    await Promise.all([...children.values()].filter((c) => !isAuthority(c.name)).map((c) => stopChild(c.process)));
    await Promise.all([...children.values()].filter((c) => isAuthority(c.name)).map((c) => stopChild(c.process)));
  };
  const start = async (name: string): Promise<Child> => {
    const child = await startChild(name, roleOf(plan, name), join(dir, name, 'config.json'), logDir, options.readyTimeoutMs);
    children.set(name, child);
    supervisor.watch(child);
    return child;
  };
  // A kept plan's ports are fixed: the consensus and the users' settings and cards name them.
  const fixed = loaded.made ? undefined : `its ports are fixed by ${planPath(dir)} (the consensus and the users name them): free the port, or start afresh (umbra up --fresh)`;
  const moving = (rewrite: (name: string) => void, restartTogether?: (started: readonly Child[]) => Promise<void>): MovingStart<Child> => ({
    start,
    log,
    maxMoves: MAX_PORT_MOVES,
    ...(fixed === undefined ? { move: (name: string) => moveToFreshPorts(name, rewrite) } : { fixed }),
    ...(restartTogether === undefined ? {} : { restartTogether }),
  });
  const moveToFreshPorts = async (name: string, rewrite: (name: string) => void): Promise<void> => {
    plan = await withFreshPorts(plan, name, allocate);
    savePlan(dir, plan);
    rewrite(name);
  };
  try {
    // Each authority has the others' URLs in its config: when one moves, all are rewritten (no node
    // runs yet) and started again.
    await startMovingPorts(plan.authorities.map((authority) => authority.name), moving(
      () => writeConfigs(dir, plan, options),
      async (started) => {
        for (const child of started) supervisor.expectExit(child.name);
        await Promise.all(started.map((child) => stopChild(child.process)));
      },
    ));
    for (const authority of plan.authorities) log(`${authority.name.padEnd(11)} ${urlOf(authority)}  key ${authority.publicKey}`);
    if (plan.authorities.length > 1) log(`a consensus needs ${Math.floor(plan.authorities.length / 2) + 1} of ${plan.authorities.length} authority signatures`);
    // A node learns the others' ports from the consensus: a moved node's own config is all there is to rewrite.
    const started = await startMovingPorts(plan.nodes.map((node) => node.name), moving((name) => {
      for (const node of plan.nodes) if (node.name === name) writeNodeConfig(dir, plan, node, options);
    }));
    for (const child of started) log(`${child.name.padEnd(11)}${String(child.ready.wsUrl ?? `link :${String(child.ready.linkPort)}`)}`);
    await waitForConsensus(plan, options.readyTimeoutMs ?? plan.epochMs * 3 + 10_000);
  } catch (error) {
    await stopAll();
    throw error;
  }
  const authorities = authorityInfos(plan);
  const authorityUrl = authorities[0].url;
  const file = writeNetworkFile(dir, plan, children);
  const view = await startNetworkView(file).catch(async (error: unknown) => {
    await stopAll();
    throw error;
  });
  log(`network view ${view.url}`);
  return {
    dir,
    plan,
    file,
    authorityUrl,
    authorities,
    viewUrl: view.url,
    async kill(name, signal) {
      const child = children.get(name);
      if (child === undefined) throw new Error(`no node ${name}`);
      const exited = new Promise<void>((r) => child.process.once('exit', () => r()));
      supervisor.expectExit(name);
      child.process.kill(signal);
      await exited;
    },
    async restart(name) {
      await start(name);
    },
    pidOf(name) {
      const child = children.get(name);
      return child === undefined || child.process.exitCode !== null || child.process.signalCode !== null ? undefined : child.process.pid;
    },
    stopRestarts() {
      supervisor.stop();
    },
    async stop() {
      await view.close();
      await stopAll();
    },
  };
}
