import { ANY, bad, no, ok, type CommandSpec, type Reply } from './reply.js';
import { textOf, type Command } from './parser.js';
import type { ImapSession } from './session-types.js';

/**
 * CAPABILITY, NOOP, LOGOUT, ID, STARTTLS, LOGIN and AUTHENTICATE PLAIN (RFC 3501 6.1 and 6.2,
 * RFC 4959 SASL-IR, RFC 2971 ID). Logging in is refused before STARTTLS (LOGINDISABLED), so the
 * bridge password never crosses even the loopback in clear.
 */
function capability(session: ImapSession): Reply {
  session.write([`* CAPABILITY ${session.capabilities()}\r\n`]);
  return ok('CAPABILITY done');
}

function startTls(session: ImapSession): Reply {
  if (session.tls) return bad('TLS is already on');
  return { status: 'OK', text: 'begin TLS negotiation now', afterReply: () => session.startTls() };
}

async function login(session: ImapSession, username: string, password: string): Promise<Reply> {
  if (!(await session.options.login.check(username, password))) {
    return no('[AUTHENTICATIONFAILED] wrong user name or bridge password (umbra client bridge --show-password)');
  }
  session.authenticated();
  return ok(`[CAPABILITY ${session.capabilities()}] logged in`);
}

async function loginCommand(session: ImapSession, command: Command): Promise<Reply> {
  if (!session.tls) return no('[PRIVACYREQUIRED] use STARTTLS first');
  const [user, pass] = command.args.map(textOf);
  if (user === undefined || pass === undefined || command.args.length !== 2) return bad('LOGIN takes a user name and a password');
  return login(session, user, pass);
}

async function authenticate(session: ImapSession, command: Command): Promise<Reply> {
  if (!session.tls) return no('[PRIVACYREQUIRED] use STARTTLS first');
  const mechanism = textOf(command.args[0])?.toUpperCase();
  if (mechanism !== 'PLAIN') return no('only AUTHENTICATE PLAIN is offered');
  let response = textOf(command.args[1]);
  if (response === undefined) {
    session.write(['+ \r\n']);
    const line = await session.next();
    if (line === undefined) return no('connection closed');
    response = line.text;
  }
  if (response === '*') return bad('authentication cancelled');
  if (response.length > 4096 || !/^[A-Za-z0-9+/]*={0,2}$/.test(response)) return bad('not base64');
  const parts = Buffer.from(response, 'base64').toString('utf8').split('\u0000');
  if (parts.length !== 3) return bad('PLAIN takes authzid NUL user NUL password');
  if (parts[0] !== '' && parts[0] !== parts[1]) return no('[AUTHENTICATIONFAILED] logging in as another user is not offered');
  return login(session, parts[1], parts[2]);
}

export const authCommands: [string, CommandSpec][] = [
  ['CAPABILITY', { states: ANY, handler: capability }],
  ['NOOP', { states: ANY, handler: () => ok('NOOP done') }],
  ['LOGOUT', { states: ANY, handler: (session) => {
    session.write(['* BYE Umbra bridge logging out\r\n']);
    session.state = 'logout';
    return ok('LOGOUT done');
  } }],
  ['ID', { states: ANY, handler: (session) => {
    session.write(['* ID ("name" "Umbra bridge")\r\n']);
    return ok('ID done');
  } }],
  ['STARTTLS', { states: ['not-authenticated'], handler: startTls }],
  ['LOGIN', { states: ['not-authenticated'], handler: loginCommand }],
  ['AUTHENTICATE', { states: ['not-authenticated'], handler: authenticate }],
];
