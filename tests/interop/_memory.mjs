// Shared by ts_write.mjs and ts_read.mjs: opens a Mastra Memory on a libSQL file and runs a
// list of operations given as JSON, printing their results as one JSON document on stdout.
//
// The pinned packages live in .services/ts-interop (scripts/ts_interop.sh) or in the directory
// named by MASTRA_TEST_TS_INTEROP; deps.mjs there re-exports what these scripts need.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

async function loadDeps() {
  const dir = process.env.MASTRA_TEST_TS_INTEROP
    ? resolve(process.env.MASTRA_TEST_TS_INTEROP)
    : join(here, '..', '..', '.services', 'ts-interop');
  return import(pathToFileURL(join(dir, 'deps.mjs')).href);
}

/** A copy of a thread or message whose top-level createdAt/updatedAt ISO strings are Dates. */
export function withDates(record) {
  const out = { ...record };
  for (const key of ['createdAt', 'updatedAt']) {
    if (typeof out[key] === 'string') out[key] = new Date(out[key]);
  }
  return out;
}

/** A @mastra/dynamodb store for `dynamodb://TABLE?region=R&endpoint_url=URL` (the Python URL). */
function dynamoStore(deps, url) {
  const parsed = new URL(url);
  return new deps.DynamoDBStore({
    name: 'mastra-memory-interop',
    config: {
      id: 'mastra-memory-interop',
      tableName: parsed.hostname || parsed.pathname.replace(/^\/+/, ''),
      region: parsed.searchParams.get('region') || 'us-east-1',
      endpoint: parsed.searchParams.get('endpoint_url') || undefined,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    },
  });
}

/**
 * Run `ops` (from the JSON file argv[3], or stdin when it is "-") against the database file
 * argv[2] (or the DynamoDB table of a `dynamodb://` URL). Each op is {"op": NAME, ...args}; NAME must be a key of `handlers`.
 * The JSON input may also be {"options": {...Memory options}, "ops": [...]}.
 */
export async function main(handlers) {
  const [dbPath, opsPath] = process.argv.slice(2);
  if (!dbPath || !opsPath) {
    console.error(`usage: node ${process.argv[1]} DB_FILE OPS_JSON|-`);
    process.exit(2);
  }
  const raw = JSON.parse(readFileSync(opsPath === '-' ? 0 : opsPath, 'utf8'));
  const spec = Array.isArray(raw) ? { ops: raw } : raw;
  const deps = await loadDeps();
  const { Memory, LibSQLStore } = deps;
  const storage = dbPath.startsWith('dynamodb://')
    ? dynamoStore(deps, dbPath)
    : new LibSQLStore({ id: 'mastra-memory-interop', url: `file:${resolve(dbPath)}` });
  const memory = new Memory({
    storage,
    options: spec.options ?? { lastMessages: 40, workingMemory: { enabled: true, scope: 'resource' } },
  });
  const results = [];
  for (const { op, ...args } of spec.ops) {
    const handler = handlers[op];
    if (!handler) throw new Error(`unknown op ${JSON.stringify(op)}; known: ${Object.keys(handlers).join(', ')}`);
    results.push(await handler(memory, args, { storage, deps }));
  }
  if (typeof memory.settled === 'function') await memory.settled();
  process.stdout.write(JSON.stringify(results));
}

