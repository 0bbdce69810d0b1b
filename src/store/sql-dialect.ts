/**
 * The SQL the mailbox migrations need, described once and rendered for SQLite and PostgreSQL.
 * A migration is a list of steps (create a table, create an index); every difference between the
 * two dialects (column types, the row-ID column, the byte-length function, out-of-line storage)
 * lives in a SqlDialect below.
 */

/** A column of a migration's table. Every column but the row ID is NOT NULL. */
export interface ColumnSpec {
  readonly name: string;
  /** 'row-id': the auto-assigned primary key; 'integer': a 64-bit integer; 'bytes': a byte string. */
  readonly type: 'row-id' | 'integer' | 'bytes';
  readonly unique?: boolean;
  /** integer: the inclusive lower bound. */
  readonly min?: number;
  /** integer: the inclusive upper bound (with `min`). */
  readonly max?: number;
  /** bytes: the exact length. */
  readonly length?: number;
  /** bytes: the least length. */
  readonly minLength?: number;
  /** bytes: large incompressible values, kept out of line without a compression attempt where the dialect can. */
  readonly incompressible?: boolean;
}

export type MigrationStep =
  | { readonly createTable: string; readonly columns: readonly ColumnSpec[] }
  | { readonly createIndex: string; readonly on: string; readonly columns: readonly string[] };

export interface SqlDialect {
  readonly rowId: string;
  readonly integer: string;
  readonly bytes: string;
  /** The function that counts a byte string's bytes. */
  readonly byteLength: string;
  /** The statement that stores an incompressible column out of line, if the dialect has one. */
  readonly incompressible?: (table: string, column: string) => string;
}

export const SQLITE_DIALECT: SqlDialect = {
  rowId: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  integer: 'INTEGER',
  bytes: 'BLOB',
  byteLength: 'length',
};

export const POSTGRES_DIALECT: SqlDialect = {
  rowId: 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY',
  integer: 'BIGINT',
  bytes: 'BYTEA',
  byteLength: 'octet_length',
  // STORAGE EXTERNAL: out of line (TOAST), never compressed.
  incompressible: (table, column) => `ALTER TABLE ${table} ALTER COLUMN ${column} SET STORAGE EXTERNAL`,
};

function checkOf(dialect: SqlDialect, column: ColumnSpec): string | undefined {
  const { name } = column;
  if (column.type === 'integer') {
    if (column.min !== undefined && column.max !== undefined) return `${name} BETWEEN ${column.min} AND ${column.max}`;
    if (column.min !== undefined) return `${name} >= ${column.min}`;
    if (column.max !== undefined) return `${name} <= ${column.max}`;
  } else if (column.type === 'bytes') {
    if (column.length !== undefined) return `${dialect.byteLength}(${name}) = ${column.length}`;
    if (column.minLength !== undefined) return `${dialect.byteLength}(${name}) >= ${column.minLength}`;
  }
  return undefined;
}

function columnSql(dialect: SqlDialect, column: ColumnSpec): string {
  if (column.type === 'row-id') return `${column.name} ${dialect.rowId}`;
  const check = checkOf(dialect, column);
  return [
    column.name,
    column.type === 'integer' ? dialect.integer : dialect.bytes,
    'NOT NULL',
    ...(column.unique === true ? ['UNIQUE'] : []),
    ...(check === undefined ? [] : [`CHECK (${check})`]),
  ].join(' ');
}

function stepSql(dialect: SqlDialect, step: MigrationStep): string[] {
  if ('createIndex' in step) return [`CREATE INDEX ${step.createIndex} ON ${step.on} (${step.columns.join(', ')})`];
  const columns = step.columns.map((column) => `  ${columnSql(dialect, column)}`).join(',\n');
  const statements = [`CREATE TABLE ${step.createTable} (\n${columns}\n)`];
  if (dialect.incompressible !== undefined) {
    for (const column of step.columns) {
      if (column.incompressible === true) statements.push(dialect.incompressible(step.createTable, column.name));
    }
  }
  return statements;
}

/** The steps as `dialect` statements, each ended by a semicolon, for one `exec`/simple query. */
export function renderSql(dialect: SqlDialect, steps: readonly MigrationStep[]): string {
  return steps.flatMap((step) => stepSql(dialect, step)).map((statement) => `${statement};\n`).join('');
}
