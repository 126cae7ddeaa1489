import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Prisma, type PrismaClient } from '../../src/generated/prisma/client';
import { MIGRATIONS_DIR } from '../../src/database/migrator';
import { openDatabase, type OpenedDatabase } from '../../src/database/prisma-client.factory';
import { JobRepository } from '../../src/core/job.repository';
import { createTestDatabase, type TestDatabase } from '../support/database';

// Real PGlite, loaded outside Jest's module sandbox (see nativePGliteModule).
jest.mock('@electric-sql/pglite', () =>
  jest
    .requireActual<typeof import('../support/database')>('../support/database')
    .nativePGliteModule(),
);

const ROOT = path.resolve(__dirname, '../..');

// ---------------------------------------------------------------------------------------------
// A small reader for the subset of schema.prisma this project uses. It is cross-checked against
// the generated client (ModelName, <Model>ScalarFieldEnum), so a field it misses fails the test.

interface SchemaField {
  name: string;
  column: string;
  type: string;
  optional: boolean;
  list: boolean;
  nativeType?: { name: string; args: string[] };
  defaultValue?: string;
  isId: boolean;
  isUnique: boolean;
  /** The database type of an `Unsupported("...")` field. */
  unsupported?: string;
  relation?: { fields: string[]; references: string[]; onDelete?: string; onUpdate?: string };
}

interface SchemaIndex {
  kind: 'id' | 'unique' | 'index';
  fields: { name: string; desc: boolean }[];
  map?: string;
}

interface SchemaModel {
  name: string;
  table: string;
  fields: SchemaField[];
  indexes: SchemaIndex[];
}

const SCALAR_TYPES = new Set([
  'String',
  'Int',
  'BigInt',
  'Float',
  'Decimal',
  'Boolean',
  'DateTime',
  'Json',
  'Bytes',
]);

/** Splits on commas that are not inside (), [] or quotes. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && (ch === '(' || ch === '[')) depth++;
    if (!quoted && (ch === ')' || ch === ']')) depth--;
    if (!quoted && depth === 0 && ch === ',') {
      parts.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  if (current.trim()) parts.push(current.trim());
  return parts;
}

/** `@name(args)` / `@@name(args)` occurrences with balanced parentheses. */
function attributes(text: string, prefix: '@' | '@@'): { name: string; args: string }[] {
  const found: { name: string; args: string }[] = [];
  const pattern = prefix === '@' ? /(?<!@)@([\w.]+)/g : /@@(\w+)/g;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    let args = '';
    let i = m.index + m[0].length;
    if (text[i] === '(') {
      let depth = 0;
      const start = i + 1;
      for (; i < text.length; i++) {
        if (text[i] === '(') depth++;
        if (text[i] === ')' && --depth === 0) break;
      }
      args = text.slice(start, i);
    }
    found.push({ name: m[1], args });
  }
  return found;
}

function namedArg(args: string, key: string): string | undefined {
  const part = splitTopLevel(args).find((p) => p.startsWith(`${key}:`));
  return part?.slice(key.length + 1).trim();
}

function listArg(value: string | undefined): string[] {
  if (!value) return [];
  return splitTopLevel(value.replace(/^\[/, '').replace(/\]$/, ''));
}

function unquote(value: string | undefined): string | undefined {
  return value?.replace(/^"(.*)"$/, '$1');
}

function parseSchema(source: string): SchemaModel[] {
  const models: SchemaModel[] = [];
  for (const block of source.matchAll(/^model\s+(\w+)\s*\{([\s\S]*?)^\}/gm)) {
    const model: SchemaModel = { name: block[1], table: block[1], fields: [], indexes: [] };
    for (const rawLine of block[2].split('\n')) {
      const line = rawLine.replace(/\s\/\/.*$/, '').trim();
      if (!line || line.startsWith('//')) continue;
      if (line.startsWith('@@')) {
        for (const attr of attributes(line, '@@')) {
          if (attr.name === 'map')
            model.table = unquote(splitTopLevel(attr.args)[0]) ?? model.table;
          if (attr.name === 'id' || attr.name === 'unique' || attr.name === 'index') {
            const [list, ...rest] = splitTopLevel(attr.args);
            model.indexes.push({
              kind: attr.name,
              fields: listArg(list.replace(/^fields:\s*/, '')).map((f) => ({
                name: f.replace(/\(.*$/, ''),
                desc: /sort:\s*Desc/.test(f),
              })),
              map: unquote(namedArg(rest.join(','), 'map')),
            });
          }
        }
        continue;
      }
      const m = /^(\w+)\s+(\w+)(\[\])?(\?)?\s*(.*)$/.exec(line);
      if (!m) throw new Error(`schema reader cannot parse line in model ${model.name}: ${line}`);
      const attrs = attributes(m[5], '@');
      const attr = (name: string) => attrs.find((a) => a.name === name);
      const native = attrs.find((a) => a.name.startsWith('db.'));
      const relation = attr('relation');
      model.fields.push({
        name: m[1],
        column: unquote(attr('map')?.args) ?? m[1],
        type: m[2],
        list: m[3] !== undefined,
        optional: m[4] !== undefined || (m[2] === 'Unsupported' && /^\([^)]*\)\?/.test(m[5])),
        nativeType: native && { name: native.name.slice(3), args: splitTopLevel(native.args) },
        defaultValue: attr('default')?.args,
        unsupported: m[2] === 'Unsupported' ? /^\("([^"]+)"\)/.exec(m[5])?.[1] : undefined,
        isId: attr('id') !== undefined,
        isUnique: attr('unique') !== undefined,
        relation: relation && {
          fields: listArg(namedArg(relation.args, 'fields')),
          references: listArg(namedArg(relation.args, 'references')),
          onDelete: namedArg(relation.args, 'onDelete'),
          onUpdate: namedArg(relation.args, 'onUpdate'),
        },
      });
    }
    models.push(model);
  }
  return models;
}

const schema = parseSchema(readFileSync(path.join(ROOT, 'prisma/schema.prisma'), 'utf8'));
const scalarFields = (model: SchemaModel) => model.fields.filter((f) => SCALAR_TYPES.has(f.type));
/** Columns: the scalar fields and the `Unsupported(...)` ones the client does not map. */
const columnFields = (model: SchemaModel) =>
  model.fields.filter((f) => SCALAR_TYPES.has(f.type) || f.unsupported !== undefined);
const columnOf = (model: SchemaModel, field: string) =>
  model.fields.find((f) => f.name === field)?.column ?? field;

// ---------------------------------------------------------------------------------------------
// What the database must look like for that schema (Prisma's PostgreSQL mapping and naming).

interface ColumnShape {
  column: string;
  dataType: string;
  precision: number | null;
  length: number | null;
  nullable: boolean;
  default: string | null;
}

function expectedColumn(model: SchemaModel, field: SchemaField): ColumnShape {
  const native = field.nativeType;
  const nativeArg = native?.args[0] === undefined ? null : Number(native.args[0]);
  const key = field.unsupported ?? `${field.type}${native ? `@${native.name}` : ''}`;
  const types: Record<string, [string, number | null, number | null]> = {
    String: ['text', null, null],
    'String@Text': ['text', null, null],
    'String@Uuid': ['uuid', null, null],
    'String@VarChar': ['character varying', null, nativeArg],
    Int: ['integer', null, null],
    BigInt: ['bigint', null, null],
    Float: ['double precision', null, null],
    Boolean: ['boolean', null, null],
    Json: ['jsonb', null, null],
    Bytes: ['bytea', null, null],
    DateTime: ['timestamp without time zone', 3, null],
    'DateTime@Timestamp': ['timestamp without time zone', nativeArg ?? 6, null],
    'DateTime@Timestamptz': ['timestamp with time zone', nativeArg ?? 6, null],
    'DateTime@Date': ['date', 0, null],
    tsvector: ['tsvector', null, null],
  };
  const type = field.list ? undefined : types[key];
  if (!type)
    throw new Error(`extend the test's type mapping for ${model.name}.${field.name}: ${key}`);
  let dflt: string | null = null;
  const d = field.defaultValue;
  if (d === 'autoincrement()') dflt = `nextval('"${model.table}_${field.column}_seq"'::regclass)`;
  else if (d === 'now()') dflt = 'CURRENT_TIMESTAMP';
  else if (d !== undefined && /^-?\d+(\.\d+)?$/.test(d)) dflt = d;
  else if (d === 'true' || d === 'false') dflt = d;
  else if (d !== undefined && d.startsWith('"')) dflt = `'${unquote(d)}'::text`;
  else if (d !== undefined) throw new Error(`extend the test's default mapping: ${d}`);
  return {
    column: field.column,
    dataType: type[0],
    precision: type[1],
    length: type[2],
    nullable: field.optional,
    default: dflt,
  };
}

interface IndexShape {
  table: string;
  name: string;
  unique: boolean;
  primary: boolean;
  columns: string[];
  descending: boolean[];
}

function expectedIndexes(model: SchemaModel): IndexShape[] {
  const all: SchemaIndex[] = [
    ...model.fields
      .filter((f) => f.isId)
      .map((f): SchemaIndex => ({ kind: 'id', fields: [{ name: f.name, desc: false }] })),
    ...model.fields
      .filter((f) => f.isUnique)
      .map((f): SchemaIndex => ({ kind: 'unique', fields: [{ name: f.name, desc: false }] })),
    ...model.indexes,
  ];
  return all.map((index) => {
    const columns = index.fields.map((f) => columnOf(model, f.name));
    const suffix = { id: 'pkey', unique: 'key', index: 'idx' }[index.kind];
    const name =
      index.map ??
      (index.kind === 'id'
        ? `${model.table}_pkey`
        : `${model.table}_${columns.join('_')}_${suffix}`);
    if (name.length > 63)
      throw new Error(`extend the test for Prisma's truncated index names: ${name}`);
    return {
      table: model.table,
      name,
      unique: index.kind !== 'index',
      primary: index.kind === 'id',
      columns,
      descending: index.fields.map((f) => f.desc),
    };
  });
}

interface ForeignKeyShape {
  table: string;
  name: string;
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
  onDelete: string;
  onUpdate: string;
}

const REFERENTIAL_ACTIONS: Record<string, string> = {
  Cascade: 'CASCADE',
  Restrict: 'RESTRICT',
  NoAction: 'NO ACTION',
  SetNull: 'SET NULL',
  SetDefault: 'SET DEFAULT',
};

function expectedForeignKeys(model: SchemaModel): ForeignKeyShape[] {
  return model.fields
    .filter((f) => f.relation && f.relation.fields.length > 0)
    .map((f) => {
      const relation = f.relation!;
      const target = schema.find((m) => m.name === f.type)!;
      const columns = relation.fields.map((name) => columnOf(model, name));
      const optional = relation.fields.some(
        (name) => model.fields.find((x) => x.name === name)?.optional,
      );
      return {
        table: model.table,
        name: `${model.table}_${columns.join('_')}_fkey`,
        columns,
        referencedTable: target.table,
        referencedColumns: relation.references.map((name) => columnOf(target, name)),
        onDelete: REFERENTIAL_ACTIONS[relation.onDelete ?? (optional ? 'SetNull' : 'Restrict')],
        onUpdate: REFERENTIAL_ACTIONS[relation.onUpdate ?? 'Cascade'],
      };
    });
}

// ---------------------------------------------------------------------------------------------
// What the database looks like (through the client's raw queries, the same on both backends).

async function actualColumns(prisma: PrismaClient): Promise<Record<string, ColumnShape[]>> {
  const rows = await prisma.$queryRawUnsafe<(ColumnShape & { table: string })[]>(
    `SELECT table_name::text AS "table", column_name::text AS "column", data_type::text AS "dataType",
            datetime_precision::int AS "precision", character_maximum_length::int AS "length",
            (is_nullable = 'YES') AS "nullable", column_default::text AS "default"
       FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name <> '_prisma_migrations'
      ORDER BY table_name, ordinal_position`,
  );
  const byTable: Record<string, ColumnShape[]> = {};
  for (const { table, ...column } of rows) (byTable[table] ??= []).push(column);
  return byTable;
}

/** SQL for the names of the columns numbered in `keys` of relation `rel`, in key order. */
const columnNames = (keys: string, rel: string) =>
  `ARRAY(SELECT a.attname::text FROM unnest(${keys}) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = ${rel} AND a.attnum = k.attnum ORDER BY k.ord)`;

function actualIndexes(prisma: PrismaClient): Promise<IndexShape[]> {
  return prisma.$queryRawUnsafe<IndexShape[]>(
    `SELECT t.relname::text AS "table", i.relname::text AS "name", x.indisunique AS "unique",
            x.indisprimary AS "primary",
            ${columnNames('x.indkey::int2[]', 't.oid')} AS "columns",
            ARRAY(SELECT (o & 1) = 1 FROM unnest(x.indoption::int2[]) WITH ORDINALITY AS k(o, ord)
                   ORDER BY k.ord) AS "descending"
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = current_schema() AND t.relname <> '_prisma_migrations'
      ORDER BY 1, 2`,
  );
}

function actualForeignKeys(prisma: PrismaClient): Promise<ForeignKeyShape[]> {
  const action = (column: string) =>
    `CASE ${column} WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE'
       WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END`;
  return prisma.$queryRawUnsafe<ForeignKeyShape[]>(
    `SELECT t.relname::text AS "table", c.conname::text AS "name",
            ${columnNames('c.conkey', 'c.conrelid')} AS "columns",
            rt.relname::text AS "referencedTable",
            ${columnNames('c.confkey', 'c.confrelid')} AS "referencedColumns",
            ${action('c.confdeltype')} AS "onDelete", ${action('c.confupdtype')} AS "onUpdate"
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid
       JOIN pg_class rt ON rt.oid = c.confrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE c.contype = 'f' AND n.nspname = current_schema()
      ORDER BY 1, 2`,
  );
}

const byTableAndName = <T extends { table: string; name: string }>(items: T[]) =>
  [...items].sort((a, b) => `${a.table}.${a.name}`.localeCompare(`${b.table}.${b.name}`));

// ---------------------------------------------------------------------------------------------

describe('schema reader', () => {
  it('sees exactly the models and scalar fields of the generated client', () => {
    expect(schema.map((m) => m.name)).toEqual(Object.values(Prisma.ModelName));
    const enums = Prisma as unknown as Record<string, Record<string, string> | undefined>;
    for (const model of schema) {
      const generated = enums[`${model.name}ScalarFieldEnum`];
      expect({ model: model.name, fields: scalarFields(model).map((f) => f.name) }).toEqual({
        model: model.name,
        fields: Object.values(generated ?? {}),
      });
    }
  });
});

interface Backend {
  name: string;
  open(log?: (line: string) => void): Promise<OpenedDatabase>;
  cleanup(): Promise<void>;
}

const postgres = (): Backend => {
  let db: TestDatabase | undefined;
  return {
    name: 'PostgreSQL',
    async open(log) {
      db ??= await createTestDatabase();
      const databaseUrl = db.url;
      return openDatabase({
        databaseUrl,
        dataDir: '',
        migrationsDir: MIGRATIONS_DIR,
        migrate: true,
        log,
      });
    },
    cleanup: async () => db?.drop(),
  };
};

const pglite = (): Backend => {
  const dataDir = path.join(os.tmpdir(), `conveyor-pglite-${randomUUID()}`, 'pglite');
  return {
    name: 'PGlite',
    open: (log) => openDatabase({ dataDir, migrationsDir: MIGRATIONS_DIR, migrate: true, log }),
    cleanup: () => fs.rm(path.dirname(dataDir), { recursive: true, force: true }),
  };
};

describe.each([postgres(), pglite()])('on a freshly migrated $name database', (backend) => {
  let opened: OpenedDatabase | undefined;
  const prisma = () => opened!.prisma;

  beforeAll(async () => {
    opened = await backend.open();
  });

  afterAll(async () => {
    await opened?.close();
    await backend.cleanup();
  });

  it('opens the expected kind of database', () => {
    expect(opened?.kind).toBe(backend.name === 'PGlite' ? 'pglite' : 'postgres');
  });

  it('has one table per model, whose columns are exactly the scalar fields', async () => {
    const actual = await actualColumns(prisma());
    const expected = Object.fromEntries(
      schema.map((model) => [
        model.table,
        columnFields(model).map((f) => expectedColumn(model, f)),
      ]),
    );
    expect(actual).toEqual(expected);
  });

  it('has exactly the primary keys, unique constraints and indexes of the schema', async () => {
    const expected = byTableAndName(schema.flatMap(expectedIndexes));
    expect(byTableAndName(await actualIndexes(prisma()))).toEqual(expected);
  });

  it('has exactly the foreign keys of the schema, with their referential actions', async () => {
    const expected = byTableAndName(schema.flatMap(expectedForeignKeys));
    expect(byTableAndName(await actualForeignKeys(prisma()))).toEqual(expected);
  });

  it('writes and reads back jobs through the group commit over its plain-SQL path', async () => {
    const jobs = new JobRepository(prisma(), opened!.query);
    const userId = `batch-${randomUUID()}`;
    const base = {
      kind: 'echo',
      userId,
      projectId: 'p',
      requestId: null,
      priority: 5,
      params: { text: 'hi', nested: { n: 1 } },
      maxAttempts: 2,
      idempotencyKey: null,
      idempotencyHash: null,
    };
    const [first, second] = await Promise.all([
      jobs.create({ ...base, id: randomUUID() }),
      jobs.create({ ...base, id: randomUUID() }),
    ]);
    if (!first.created || !second.created) throw new Error('expected two new jobs');
    expect(typeof first.event.id).toBe('bigint');
    expect(second.event.previousEventId).toBe(first.event.id);
    expect(first.job.createdAt).toBeInstanceOf(Date);
    expect(first.event.createdAt).toBeInstanceOf(Date);
    expect(first.job.params).toEqual(base.params);
    const started = await jobs.transition(
      first.job.id,
      { type: 'processing', attempt: 1 },
      first.job,
    );
    expect(started?.job).toMatchObject({ status: 'processing', attempts: 1 });
    expect(started?.job.startedAt).toBeInstanceOf(Date);
    expect(started?.event.previousEventId).toBe(second.event.id);
    await jobs.onApplicationShutdown();
  });

  it('round-trips a Job and a JobEvent with every column set', async () => {
    const parent = await prisma().job.create({
      data: {
        id: randomUUID(),
        kind: 'change',
        userId: 'user-1',
        projectId: 'project-1',
        status: 'processing',
        priority: 5,
        params: {},
        maxAttempts: 1,
      },
    });
    const job = {
      id: randomUUID(),
      kind: 'code-generation',
      userId: 'user-1',
      projectId: 'project-1',
      requestId: 'request-1',
      status: 'processing',
      priority: 1,
      progress: 42,
      message: 'halfway — ünïcødé ✓',
      params: {
        prompt: 'write a test',
        files: [{ path: 'a.ts', content: 'x' }],
        n: 1.5,
        none: null,
      },
      result: { ok: true, list: [1, 'two', null, { deep: [] }] },
      error: 'transient failure',
      attempts: 2,
      maxAttempts: 3,
      idempotencyKey: 'key-1',
      idempotencyHash: 'sha256:abc',
      createdAt: new Date('2026-01-02T03:04:05.678Z'),
      startedAt: new Date('2026-01-02T03:04:06.001Z'),
      finishedAt: new Date('2026-01-02T03:05:00.999Z'),
      updatedAt: new Date('2026-01-02T03:05:01.002Z'),
      version: 7,
      parentId: parent.id,
      childKey: 'generate-1',
    } satisfies Prisma.JobUncheckedCreateInput;
    const event = {
      id: 9007199254740993n,
      jobId: job.id,
      userId: job.userId,
      kind: job.kind,
      status: 'progress',
      progress: 42,
      message: 'tokens streamed',
      result: { partial: 'fn main() {}' },
      error: 'none',
      createdAt: new Date('2026-01-02T03:04:07.123Z'),
      output: 'PASS src/a.spec.ts ✓ — 😀\n',
      parentId: parent.id,
    } satisfies Prisma.JobEventUncheckedCreateInput;

    await prisma().job.create({ data: job });
    await prisma().jobEvent.create({ data: event });

    await expect(
      prisma().job.findUniqueOrThrow({ where: { id: job.id }, include: { events: true } }),
    ).resolves.toEqual({ ...job, events: [event] });
  });

  it('fills the database defaults and @updatedAt', async () => {
    const before = Date.now();
    const job = await prisma().job.create({
      data: {
        id: randomUUID(),
        kind: 'indexing',
        userId: 'user-2',
        projectId: 'project-2',
        status: 'queued',
        priority: 5,
        params: {},
        maxAttempts: 3,
        events: { create: [{ userId: 'user-2', kind: 'indexing', status: 'queued', progress: 0 }] },
      },
      include: { events: true },
    });
    expect(job).toMatchObject({ progress: 0, attempts: 0, requestId: null, result: null });
    expect(job.createdAt.getTime()).toBeGreaterThanOrEqual(before - 60_000);
    expect(job.updatedAt.getTime()).toBeGreaterThanOrEqual(before - 60_000);
    expect(job.events).toEqual([
      expect.objectContaining({ id: expect.any(BigInt), message: null }),
    ]);
  });
});

describe('the embedded PGlite database', () => {
  const backend = pglite();

  afterAll(() => backend.cleanup());

  it('persists data across reopen and needs no migration the second time', async () => {
    const firstRun: string[] = [];
    const first = await backend.open((line) => firstRun.push(line));
    const id = randomUUID();
    try {
      await first.prisma.job.create({
        data: {
          id,
          kind: 'k',
          userId: 'u',
          projectId: 'p',
          status: 'queued',
          priority: 5,
          params: {},
          maxAttempts: 1,
        },
      });
    } finally {
      await first.close();
    }

    const secondRun: string[] = [];
    const reopened = await backend.open((line) => secondRun.push(line));
    try {
      await expect(reopened.prisma.job.count({ where: { id } })).resolves.toBe(1);
    } finally {
      await reopened.close();
    }
    const migrations = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `applied ${e.name}`)
      .sort();
    expect(firstRun).toEqual(migrations);
    expect(secondRun).toEqual([]);
  });
});
