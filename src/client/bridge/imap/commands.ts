import { authCommands } from './commands-auth.js';
import { folderCommands } from './commands-folders.js';
import { messageCommands } from './commands-messages.js';
import type { Command } from './parser.js';
import { bad, type CommandSpec, type Reply } from './reply.js';
import type { ImapSession } from './session-types.js';

export type { Reply } from './reply.js';

/**
 * The command table (RFC 3501 section 6): each command with the states it is valid in and its
 * handler. A command in the wrong state is refused with BAD and changes nothing.
 */
const table: ReadonlyMap<string, CommandSpec> = new Map([...authCommands, ...folderCommands, ...messageCommands]);

export async function dispatch(session: ImapSession, command: Command): Promise<Reply> {
  const spec = table.get(command.name);
  if (spec === undefined) return bad(`unknown command ${command.name.slice(0, 40)}`);
  if (!spec.states.includes(session.state)) {
    const why = session.state === 'not-authenticated' ? 'log in first' : session.state === 'authenticated' ? 'select a folder first' : 'not valid now';
    return bad(`${command.name} is not valid in this state: ${why}`);
  }
  return spec.handler(session, command);
}
