import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs in strict mode, with its errors turned into UsageError so that a mistyped option
 * gives one line and exit code 2 instead of a stack trace.
 */
export function parseOptions<T extends Options>(command: string, args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      // Newer Node versions append advice about positionals, which no command here takes.
      const text = (error as Error).message;
      // Node calls a value that starts with '-' "ambiguous"; say what to do instead.
      const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(text);
      if (ambiguous !== null) throw new UsageError(`option '${ambiguous[1]}' needs a value (write ${ambiguous[1]}=VALUE for one that starts with '-')`);
      const message = text.split('\n')[0].split('. To specify')[0].replace(/\.$/, '');
      throw new UsageError(`${command}: ${message.charAt(0).toLowerCase()}${message.slice(1)}`);
    }
    throw error;
  }
}

/** One of `allowed`, or a UsageError naming the choices. */
export function choice<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`option '--${name}' must be one of ${allowed.join(', ')}, not '${value}'`);
}

/** A whole number in [min, max] written in decimal digits, or a UsageError. */
export function integer(name: string, value: string | undefined, min: number, max: number, fallback: number): number;
export function integer(name: string, value: string | undefined, min: number, max: number): number | undefined;
export function integer(name: string, value: string | undefined, min: number, max: number, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    throw new UsageError(`option '--${name}' must be a whole number ${range}, not '${value}'`);
  }
  return n;
}
