// Stored Responses in Redis (REDIS_URL): the memory store's TTL, count and size bounds and delete,
// on a real redis-server; through HTTP, a conversation started on one gateway continues, is read
// and is deleted on another, still per gateway key; while Redis is down, reading is a 503 in the
// Responses error shape and answering still works.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import { RedisResponseStore } from '../src/responses/redis-store.ts';
import type { ResponseObject } from '../src/responses/schemas/types.ts';
import { Metrics } from '../src/server/metrics.ts';
import { SharedRedis } from '../src/server/redis.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort, type RedisServer, skipWithout, startRedis } from './helpers/services.ts';

const MODEL = 'ibm/granite-4-h-small';
const A = { authorization: 'Bearer tenant-a' };
const B = { authorization: 'Bearer tenant-b' };

function stored(id: string, text = 'hi', owner = '') {
  const response = {
    id,
    object: 'response',
    output: [{ type: 'message', id: `msg_${id}`, role: 'assistant', status: 'completed', content: [] }],
    output_text: text,
  } as unknown as ResponseObject;
  return {
    owner,
    response,
    items: [{ type: 'message' as const, id: `in_${id}`, role: 'user' as const, content: text }],
  };
}

/** What the Redis store counts for an entry: its JSON and each item's, in UTF-8 bytes. */
function keptBytes(entry: ReturnType<typeof stored>): number {
  const items = [...entry.items, ...(entry.response.output as Array<{ id?: string }>)];
  return (
    Buffer.byteLength(JSON.stringify(entry)) +
    items.reduce((sum, item) => sum + (item.id ? Buffer.byteLength(JSON.stringify(item)) : 0), 0)
  );
}

const quietLog = {
  error() {},
  warn() {},
  info() {},
  debug() {},
} as unknown as FastifyBaseLogger;

describe('RedisResponseStore', { skip: skipWithout('redis-server') }, () => {
  let server: RedisServer;
  let client: Redis;
  const connections: SharedRedis[] = [];
  let prefixes = 0;

  async function store(limits: { maxEntries: number; maxBytes: number; ttlMs: number }) {
    const redis = new SharedRedis(
      { url: server.url, failurePolicy: 'open', timeoutMs: 1000, keyPrefix: `store${++prefixes}:` },
      new Metrics({ defaultMetrics: false }),
      quietLog,
    );
    connections.push(redis);
    assert.equal(await redis.ready(), true);
    return { store: new RedisResponseStore(redis, limits), prefix: redis.keyPrefix };
  }

  before(async () => {
    server = await startRedis();
    client = new Redis(server.url);
  });
  after(async () => {
    for (const redis of connections) await redis.close();
    client?.disconnect();
    await server?.stop();
  });

  test('keeps a response and its items for the TTL, then forgets both; only for its owner', async () => {
    const { store: responses } = await store({ maxEntries: 10, maxBytes: 1e6, ttlMs: 300 });
    await responses.put(stored('a', 'hi', 'owner-1'));
    assert.equal((await responses.get('a', 'owner-1'))?.response.id, 'a');
    assert.equal(await responses.get('a', 'owner-2'), undefined);
    assert.equal((await responses.getItem('msg_a', 'owner-1'))?.id, 'msg_a');
    assert.equal((await responses.getItem('in_a', 'owner-1'))?.id, 'in_a');
    assert.equal(await responses.getItem('in_a', 'owner-2'), undefined);
    assert.equal(await responses.delete('a', 'owner-2'), false);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal(await responses.get('a', 'owner-1'), undefined);
    assert.equal(await responses.getItem('msg_a', 'owner-1'), undefined);
  });

  test('past maxEntries the oldest goes first, its items with it', async () => {
    const { store: responses, prefix } = await store({ maxEntries: 2, maxBytes: 1e6, ttlMs: 1e9 });
    for (const id of ['a', 'b', 'c']) await responses.put(stored(id));
    assert.equal(await responses.get('a', ''), undefined);
    assert.equal(await responses.getItem('msg_a', ''), undefined);
    assert.ok(await responses.get('b', ''));
    assert.ok(await responses.get('c', ''));
    assert.equal(await client.zcard(`${prefix}resp:index`), 2);
  });

  test('past maxBytes the oldest goes first; an entry larger than the bound is not kept', async () => {
    const size = keptBytes(stored('a'));
    const { store: responses, prefix } = await store({
      maxEntries: 100,
      maxBytes: size * 2 + 10,
      ttlMs: 1e9,
    });
    for (const id of ['a', 'b', 'c']) await responses.put(stored(id));
    assert.equal(await responses.get('a', ''), undefined);
    assert.ok(await responses.get('c', ''));
    await responses.put(stored('big', 'x'.repeat(size * 3)));
    assert.equal(await responses.get('big', ''), undefined);
    assert.ok(await responses.get('c', ''));
    assert.equal(Number(await client.get(`${prefix}resp:bytes`)), size * 2);
  });

  test("maxBytes bounds the bytes Redis holds: UTF-8 bytes, the items' copies included", async () => {
    const { store: responses, prefix } = await store({ maxEntries: 100, maxBytes: 60_000, ttlMs: 1e9 });
    // 3,000 characters, 9,000 bytes in UTF-8, twice in the entry and again in its input item.
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) await responses.put(stored(id, '漢'.repeat(3000)));
    assert.ok(await responses.get('f', ''));
    let held = 0;
    for (const key of await client.keys(`${prefix}resp:r:*`)) held += await client.strlen(key);
    for (const key of await client.keys(`${prefix}resp:i:*`)) held += await client.hstrlen(key, 'i');
    assert.ok(held <= 60_000, `Redis holds ${held} bytes of stored responses, past maxBytes (60000)`);
    assert.equal(Number(await client.get(`${prefix}resp:bytes`)), held);
  });

  test('delete says whether it was there; the items go with it, and so do the counts', async () => {
    const { store: responses, prefix } = await store({ maxEntries: 10, maxBytes: 1e6, ttlMs: 1e9 });
    await responses.put(stored('a'));
    assert.equal(await responses.delete('a', ''), true);
    assert.equal(await responses.delete('a', ''), false);
    assert.equal(await responses.getItem('msg_a', ''), undefined);
    assert.deepEqual(await client.keys(`${prefix}resp:[ri]*`), []);
    assert.equal(Number(await client.get(`${prefix}resp:bytes`)), 0);
  });

  test('an item id used again by a later response belongs to the later one; deleting the first leaves it', async () => {
    const { store: responses } = await store({ maxEntries: 10, maxBytes: 1e6, ttlMs: 1e9 });
    const first = stored('a', 'first');
    const second = stored('b', 'second');
    second.items[0]!.id = 'in_a';
    await responses.put(first);
    await responses.put(second);
    assert.equal((await responses.getItem('in_a', ''))?.content, 'second');
    await responses.delete('a', '');
    assert.equal((await responses.getItem('in_a', ''))?.content, 'second');
  });
});

describe('stored Responses across gateways', { skip: skipWithout('redis-server') }, () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server?.stop();
  });

  test('a conversation made on one gateway continues, is read and is deleted on the other, per key', async () => {
    const env = { REDIS_URL: server.url, API_KEY: 'tenant-a,tenant-b' };
    const one = await startTestGateway({ env });
    const two = await startTestGateway({ env });
    const post = (gateway: TestGateway, headers: Record<string, string>, payload: object) =>
      gateway.inject({
        method: 'POST',
        url: '/v1/responses',
        headers,
        payload: { model: MODEL, ...payload },
      });
    try {
      const first = await post(one, A, {
        input: [{ type: 'message', id: 'msg_1', role: 'user', content: 'my name is Ada' }],
      });
      assert.equal(first.statusCode, 200);
      const id = first.json().id as string;

      const next = await post(two, A, { input: 'what is my name?', previous_response_id: id });
      assert.equal(next.statusCode, 200);
      const sent = JSON.stringify(two.inferenceRequests().at(-1)?.body);
      assert.match(sent, /my name is Ada/, 'the earlier turn reached watsonx from the other gateway');

      const referenced = await post(two, A, { input: [{ type: 'item_reference', id: 'msg_1' }] });
      assert.equal(referenced.statusCode, 200);
      assert.match(JSON.stringify(two.inferenceRequests().at(-1)?.body), /my name is Ada/);

      assert.equal((await post(two, B, { input: 'go on', previous_response_id: id })).statusCode, 404);
      const read = await two.inject({ method: 'GET', url: `/v1/responses/${id}`, headers: A });
      assert.equal(read.statusCode, 200);
      assert.equal(read.json().id, id);
      assert.equal(
        (await two.inject({ method: 'GET', url: `/v1/responses/${id}`, headers: B })).statusCode,
        404,
      );

      assert.equal(
        (await two.inject({ method: 'DELETE', url: `/v1/responses/${id}`, headers: A })).statusCode,
        200,
      );
      assert.equal(
        (await one.inject({ method: 'GET', url: `/v1/responses/${id}`, headers: A })).statusCode,
        404,
      );
    } finally {
      await one.close();
      await two.close();
    }
  });
});

describe('stored Responses while Redis is unreachable', () => {
  test('answers are still given; reading a stored one is a 503 in the Responses error shape', async () => {
    const gateway = await startTestGateway({ env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } });
    try {
      const made = await gateway.inject({
        method: 'POST',
        url: '/v1/responses',
        payload: { model: MODEL, input: 'hello' },
      });
      assert.equal(made.statusCode, 200);
      const read = await gateway.inject({ method: 'GET', url: `/v1/responses/${made.json().id}` });
      assert.equal(read.statusCode, 503);
      assert.equal(read.json().error.code, 'response_store_unavailable');
      assert.equal(read.headers['retry-after'], '1');
      const chained = await gateway.inject({
        method: 'POST',
        url: '/v1/responses',
        payload: { model: MODEL, input: 'go on', previous_response_id: made.json().id },
      });
      assert.equal(chained.statusCode, 503);
      const metrics = await gateway.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /gateway_redis_failures_total\{use="response_store"\} 3/);
    } finally {
      await gateway.close();
    }
  });
});
