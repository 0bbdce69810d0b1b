import pino, { type DestinationStream, type Logger } from 'pino';
import { LOG_LEVELS, type LogLevel, type NodeLog } from '../node/log.js';
import { choice } from './parse.js';

/**
 * The log of a long-lived process (docs/nodes.md, "Logs"): one JSON object per line on stderr
 * (stdout carries only the `ready` line), written by pino:
 * `{"level":"info","time":"…","pid":…,"role":"mix","node":"mix-1-1","component":"node","msg":"epoch 5 begins"}`.
 */
export function processLogger(role: string, level: LogLevel, destination: DestinationStream = pino.destination({ fd: 2, sync: true })): Logger {
  return pino({
    level,
    base: { pid: process.pid, role }, // no host name: the log says what happened, not where
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, destination);
}

/** The `--log-level` option's value, checked (default info). */
export function logLevelOption(value: string | undefined): LogLevel {
  return choice('log-level', value, LOG_LEVELS, 'info');
}

const COMPONENT = /^([a-z]+): ([\s\S]*)$/;

/**
 * The NodeLog the node and authority code calls, writing to `logger`. A line's leading
 * `authority: ` or `provider: ` becomes the `component` field.
 */
export function nodeLogOf(logger: Logger): NodeLog {
  return (line, level = 'info', fields = {}) => {
    const parts = COMPONENT.exec(line);
    if (parts === null) logger[level](fields, line);
    else logger[level]({ component: parts[1], ...fields }, parts[2]);
  };
}
