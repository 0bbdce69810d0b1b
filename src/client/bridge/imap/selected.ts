import type { FolderInfo, FolderMessage, MailFolders } from '../../mail-folders.js';
import { inSet, type SequenceSet } from './sequence.js';
import type { Chunk } from './response.js';

/**
 * The folder a session has selected, as its mail program knows it: the UID of each sequence
 * number, the flags last told, and which messages are new to this session (\Recent). update()
 * brings that view in line with the store and says what changed (EXISTS, EXPUNGE, FETCH FLAGS),
 * so that mail arriving, or changes made by another session, reach the mail program.
 */
export class SelectedFolder {
  private uids: number[];
  private readonly told = new Map<number, string>();
  readonly recent = new Set<number>();

  constructor(private readonly folders: MailFolders, readonly folder: FolderInfo, readonly readOnly: boolean) {
    const messages = folders.messages(folder.id);
    this.uids = messages.map((m) => m.uid);
    for (const m of messages) this.told.set(m.uid, m.flags.join(' '));
  }

  get count(): number {
    return this.uids.length;
  }

  get maxUid(): number {
    return this.uids.length === 0 ? 0 : this.uids[this.uids.length - 1];
  }

  seqOf(uid: number): number | undefined {
    const i = this.uids.indexOf(uid);
    return i < 0 ? undefined : i + 1;
  }

  /** The messages a sequence set names (by sequence number or UID), as known to this session. */
  resolve(set: SequenceSet, byUid: boolean): { seq: number; message: FolderMessage }[] {
    const current = new Map(this.folders.messages(this.folder.id).map((m) => [m.uid, m]));
    const found: { seq: number; message: FolderMessage }[] = [];
    this.uids.forEach((uid, i) => {
      const hit = byUid ? inSet(set, uid, this.maxUid) : inSet(set, i + 1, this.uids.length);
      const message = current.get(uid);
      if (hit && message !== undefined) found.push({ seq: i + 1, message });
    });
    return found;
  }

  /** This session told the client these flags itself. */
  noteFlags(uid: number, flags: readonly string[]): void {
    this.told.set(uid, flags.join(' '));
  }

  /** This session expunged these UIDs and said so; the EXPUNGE lines to send. */
  forget(uids: readonly number[]): string[] {
    const lines: string[] = [];
    for (const uid of [...uids].sort((a, b) => b - a)) {
      const i = this.uids.indexOf(uid);
      if (i < 0) continue;
      lines.push(`* ${i + 1} EXPUNGE\r\n`);
      this.uids.splice(i, 1);
      this.told.delete(uid);
      this.recent.delete(uid);
    }
    return lines; // highest sequence number first, so each number is right when it is read
  }

  /** The untagged responses that bring the client up to date (EXPUNGE only when allowed now). */
  update(expungeAllowed: boolean): Chunk[] {
    const current = this.folders.messages(this.folder.id);
    const byUid = new Map(current.map((m) => [m.uid, m]));
    const out: Chunk[] = [];
    if (expungeAllowed) out.push(...this.forget(this.uids.filter((uid) => !byUid.has(uid))));
    this.uids.forEach((uid, i) => {
      const message = byUid.get(uid);
      if (message === undefined) return;
      const flags = message.flags.join(' ');
      if (this.told.get(uid) === flags) return;
      this.told.set(uid, flags);
      const recent = this.recent.has(uid) ? (flags === '' ? '\\Recent' : ' \\Recent') : '';
      out.push(`* ${i + 1} FETCH (UID ${uid} FLAGS (${flags}${recent}))\r\n`);
    });
    const fresh = current.filter((m) => m.uid > this.maxUid);
    if (fresh.length > 0) {
      for (const m of fresh) {
        this.uids.push(m.uid);
        this.told.set(m.uid, m.flags.join(' '));
        this.recent.add(m.uid);
      }
      out.push(`* ${this.uids.length} EXISTS\r\n`, `* ${this.recent.size} RECENT\r\n`);
    }
    return out;
  }
}
