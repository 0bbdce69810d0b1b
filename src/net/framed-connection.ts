import type { TLSSocket } from 'node:tls';
import { FrameDecoder, FrameError, KEEPALIVE_FRAME, type Frame, type FrameLimits } from './frames.js';
import type { DisconnectReason, LinkTiming } from './link-settings.js';

/**
 * One end of a node-to-node link (docs/links.md): a TLS socket carrying length-prefixed frames
 * (frames.ts), sending a keepalive when it has been quiet for `keepaliveMs` and ending when the peer
 * has been silent for `idleTimeoutMs`. The listener and the dialer decide what a frame means.
 */
export class FramedConnection {
  private readonly decoder: FrameDecoder;
  private readonly timer: NodeJS.Timeout;
  private lastReceived = Date.now();
  private lastSent = Date.now();
  private ended = false;

  constructor(
    readonly socket: TLSSocket,
    limits: FrameLimits,
    private readonly timing: LinkTiming,
    private readonly onFrame: (frame: Frame) => DisconnectReason | undefined,
    private readonly onEnd: (reason: DisconnectReason) => void,
  ) {
    this.decoder = new FrameDecoder(limits);
    const tick = Math.max(10, Math.min(timing.keepaliveMs, timing.idleTimeoutMs) / 2);
    this.timer = setInterval(() => this.onTick(), tick);
    this.timer.unref();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.end('socket-error'));
    socket.on('close', () => this.end('peer-closed'));
  }

  /** Writes one encoded frame; false when the socket's buffer is full (wait for 'drain'). */
  write(frame: Uint8Array): boolean {
    this.lastSent = Date.now();
    return this.socket.write(frame);
  }

  end(reason: DisconnectReason): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    this.socket.destroy();
    this.onEnd(reason);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * Stops (false) or resumes (true) reading: the receiver's backpressure, which TCP passes on to
   * the sender. A link is not idle while its reading is stopped.
   */
  setReading(on: boolean): void {
    if (this.ended) return;
    this.lastReceived = Date.now();
    if (on) this.socket.resume();
    else this.socket.pause();
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    this.lastReceived = Date.now();
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      if (error instanceof FrameError) return this.end(error.reason);
      throw error;
    }
    for (const frame of frames) {
      const violation = this.onFrame(frame);
      if (violation !== undefined) return this.end(violation);
      if (this.ended) return;
    }
  }

  private onTick(): void {
    const now = Date.now();
    if (this.socket.isPaused()) this.lastReceived = now;
    else if (now - this.lastReceived >= this.timing.idleTimeoutMs) return this.end('idle-timeout');
    if (now - this.lastSent >= this.timing.keepaliveMs) this.write(KEEPALIVE_FRAME);
  }
}
