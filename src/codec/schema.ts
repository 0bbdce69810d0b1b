/**
 * A small toolkit for validating configuration JSON (node, authority and client settings): every
 * problem is collected as one readable line ("epochMs must be an integer", `unknown field "x"`),
 * so a user sees all of them at once. A validator reads the untyped JSON into its typed form with
 * a ConfigProblems, then re-checks the typed form for range and cross-field rules, adding only
 * the problems about fields not already reported.
 */
export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A safe integer in min..max (inclusive). */
export function intIn(value: unknown, min: number, max: number): value is number {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

/** The field a problem line is about: its first word, without an index ("authorities[2] must …" → "authorities"). */
export function fieldOfProblem(problem: string): string {
  return problem.split(/[ :]/)[0].replace(/\[\d+\]$/, '');
}

/** "title:" then one "- problem" line each. */
export function problemListMessage(title: string, problems: readonly string[]): string {
  return `${title}:\n${problems.map((problem) => `- ${problem}`).join('\n')}`;
}

/**
 * A JSON object from JSON text or an already parsed value; `fail` makes the error for text that is
 * not JSON or a value that is not an object.
 */
/** A configuration that has problems: every one is listed, after the title. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(title: string, problems: readonly string[]) {
    super(problemListMessage(title, problems));
    this.problems = problems;
  }
}

export function parseJsonObject(json: unknown, fail: (problem: string) => Error): JsonObject {
  let input: unknown = json;
  if (typeof json === 'string') {
    try {
      input = JSON.parse(json);
    } catch {
      throw fail('the configuration is not valid JSON');
    }
  }
  if (!isJsonObject(input)) throw fail('the configuration must be a JSON object');
  return input;
}

/** The problems found so far, and the fields they are about. */
export class ConfigProblems {
  readonly list: string[] = [];
  private readonly fields = new Set<string>();

  add(problem: string): void {
    this.list.push(problem);
    this.fields.add(fieldOfProblem(problem));
  }

  /** Reports every key of `object` not in `known` (`prefix` names the nested object: "link."). */
  unknownFields(object: JsonObject, known: readonly string[], prefix = ''): void {
    for (const key of Object.keys(object)) if (!known.includes(key)) this.add(`unknown field "${prefix}${key}"`);
  }

  /**
   * `source[name]` as an integer; `path` names it in problems. Missing: `fallback`, or "is
   * required" (and NaN) without one. Not a safe integer: "must be an integer" (and NaN).
   */
  integer(source: JsonObject, name: string, path: string, fallback: number | undefined): number {
    const value = source[name];
    if (value === undefined) {
      if (fallback === undefined) this.add(`${path} is required`);
      return fallback ?? Number.NaN;
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      this.add(`${path} must be an integer`);
      return Number.NaN;
    }
    return value;
  }

  /** Adds the problems (of a typed re-check) about fields not reported yet. */
  addUnreported(problems: readonly string[]): void {
    const before = new Set(this.fields);
    for (const problem of problems) if (!before.has(fieldOfProblem(problem))) this.add(problem);
  }
}
