import { PortInUseError } from './errors.js';

/**
 * Starting processes whose ports were drawn earlier (docs/network.md, "`umbra up` and supervision"):
 * a port is free when `umbra up` draws it, not necessarily when the node binds it, since another
 * program (another `umbra up`, an outgoing connection's ephemeral port) may take it in between. A
 * process that exits because a port of its own is in use (PortInUseError) is moved to fresh ports
 * and started again, at most `maxMoves` times per process; other failures end the start at once.
 */
export interface MovingStart<T> {
  /** Starts one process; rejects with PortInUseError when a port of its own is taken. */
  start(name: string): Promise<T>;
  /** Gives `name` fresh ports (plan, configs). Undefined when the ports are fixed: then `fixed` says why, and a taken port is final. */
  readonly move?: (name: string) => Promise<void>;
  readonly fixed?: string;
  /** Stops the processes that did start, before every start again after a move (each names the others' ports: authorities). */
  readonly restartTogether?: (started: readonly T[]) => Promise<void>;
  readonly maxMoves: number;
  readonly log: (line: string) => void;
}

export const MAX_PORT_MOVES = 3;

/** Starts every name (in parallel), moving those whose port was taken; resolves with them in `names` order. */
export async function startMovingPorts<T>(names: readonly string[], how: MovingStart<T>): Promise<T[]> {
  const started = new Map<string, T>();
  const moves = new Map<string, number>();
  let pending = [...names];
  for (;;) {
    // Every start is waited for, so that none becomes ready after a failure and is left running.
    const outcomes = await Promise.allSettled(pending.map((name) => how.start(name)));
    const taken: PortInUseError[] = [];
    let failure: unknown;
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') started.set(pending[i], outcome.value);
      else if (outcome.reason instanceof PortInUseError) taken.push(outcome.reason);
      else failure ??= outcome.reason;
    });
    if (failure !== undefined) throw failure;
    if (taken.length === 0) return names.map((name) => started.get(name) as T);
    for (const error of taken) {
      if (how.move === undefined) throw new PortInUseError(error.node, `${error.message}; ${how.fixed ?? 'its ports are fixed'}`);
      const count = moves.get(error.node) ?? 0;
      if (count >= how.maxMoves) {
        throw new PortInUseError(error.node, `${error.node} found a port of its own in use at each of ${count + 1} starts, on fresh ports after the first; giving up (${error.message})`);
      }
      moves.set(error.node, count + 1);
    }
    for (const error of taken) {
      await how.move?.(error.node);
      how.log(`${error.node}: a port of its own was taken before it could listen; starting it again on fresh ports`);
    }
    if (how.restartTogether !== undefined) {
      await how.restartTogether([...started.values()]);
      started.clear();
      pending = [...names];
    } else {
      pending = taken.map((error) => error.node);
    }
  }
}
