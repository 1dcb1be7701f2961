// The storage workload of benchmarks/dynamodb_store.py (bench.mjs's, scaled) on Mastra's own
// @mastra/memory + @mastra/dynamodb, against an existing table. Run by dynamodb_store.py --ts:
//   MASTRA_TEST_TS_INTEROP=.services/ts-interop node benchmarks/dynamodb_ts.mjs TABLE ENDPOINT COUNTS_JSON
// Prints {op: value} as JSON (per_s for throughput ops, p50_ms for the others).
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [table, endpoint, countsJson] = process.argv.slice(2);
const n = JSON.parse(countsJson);
const dir = resolve(process.env.MASTRA_TEST_TS_INTEROP || '.services/ts-interop');
const { Memory, DynamoDBStore } = await import(pathToFileURL(join(dir, 'deps.mjs')).href);
const storage = new DynamoDBStore({
  name: 'bench',
  config: {
    id: 'bench',
    tableName: table,
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  },
});
await storage.init();
const memory = new Memory({ storage, options: { lastMessages: 10 } });
const BASE = Date.UTC(2025, 0, 1);
const LOREM =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et ' +
  'dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip. ';
const text = (i) => (`message ${i}: ` + LOREM.repeat(3)).slice(0, 200);
const msg = (threadId, prefix, i) => ({
  id: `${prefix}-${String(i).padStart(6, '0')}`,
  role: i % 2 === 0 ? 'user' : 'assistant',
  createdAt: new Date(BASE + i * 1000),
  threadId,
  resourceId: 'res-msgs',
  type: 'v2',
  content: { format: 2, parts: [{ type: 'text', text: text(i) }] },
});
const p50 = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return +(s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2).toFixed(3);
};
async function timed(fn, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}
const ops = {};
let t = performance.now();
const ids = [];
for (let i = 0; i < n.threads; i++) {
  ids.push((await memory.createThread({ resourceId: 'res-threads', threadId: `t-${String(i).padStart(6, '0')}` })).id);
}
ops.createThread_per_s = Math.round(n.threads / ((performance.now() - t) / 1000));
const single = await memory.createThread({ resourceId: 'res-msgs', threadId: 'single' });
t = performance.now();
for (let i = 0; i < n.save1; i++) await memory.saveMessages({ messages: [msg(single.id, 's', i)] });
ops.saveMessages_batch1_per_s = Math.round(n.save1 / ((performance.now() - t) / 1000));
const big = await memory.createThread({ resourceId: 'res-msgs', threadId: 'big' });
const msgs = Array.from({ length: n.msgs }, (_, i) => msg(big.id, 'b', i));
t = performance.now();
for (let i = 0; i < msgs.length; i += 100) await memory.saveMessages({ messages: msgs.slice(i, i + 100) });
ops.saveMessages_batch100_per_s = Math.round(n.msgs / ((performance.now() - t) / 1000));
ops.recall_last10_p50_ms = p50(
  await timed(() => memory.recall({ threadId: big.id, resourceId: 'res-msgs', perPage: 10 }), n.recall),
);
ops.listThreads_100_p50_ms = p50(
  await timed(() => memory.listThreads({ filter: { resourceId: 'res-threads' }, page: 0, perPage: 100 }), n.list),
);
try {
  ops.cloneThread_p50_ms = p50(await timed(() => memory.cloneThread({ sourceThreadId: big.id }), n.clone));
} catch (err) {
  ops.cloneThread_p50_ms = null; // @mastra/dynamodb 1.0 implements no copyThread: "not implemented"
}
ops.getThreadById_p50_ms = p50(await timed((i) => memory.getThreadById({ threadId: ids[i % ids.length] }), n.get));
process.stdout.write(JSON.stringify(ops));
