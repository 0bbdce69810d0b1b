/**
 * A packet as an active attacker at a node's input sees it (with the ground truth it needs to
 * score itself). Read it during the call only: keep its fields (firstTx names the packet), not it.
 */
export interface PacketView {
  readonly kind: number;
  readonly message: number;
  readonly client: number;
  /** Node indices: gateway, mix 1, mix 2, mix 3, provider. */
  readonly hops: readonly number[];
  /** The hop it is arriving at (0: the gateway, just sent; 4: the provider). */
  readonly hop: number;
  /** The per-hop delays its sender chose (gateway, mixes 1–3). */
  readonly delays: readonly number[];
  /** The transmission that carries it into this hop. */
  readonly tx: number;
  /** The transmission that left the client: the packet's name for its whole path. */
  readonly firstTx: number;
  readonly sentAt: number;
}

/**
 * An active attacker on the links into the nodes: `admit` is asked about every packet arriving at
 * every hop (the gateway's arrival is the moment a client sends); false drops the packet there.
 */
export interface ActiveAttacker {
  admit(node: number, packet: PacketView, now: number): boolean;
}
