// Stored responses in Redis (REDIS_URL), so that `previous_response_id`, `item_reference` and
// GET/DELETE /v1/responses/{id} work on every replica. The same bounds as the memory store, kept
// across all replicas by one Lua script per change (atomic in Redis): each response expires after
// the TTL, and past the entry count or the bytes Redis holds for them (each entry and its item
// copies, in UTF-8) the oldest go first. Per-owner scoping as in memory: a response answers only
// its owner, and item ids are kept per owner.
//
// Keys (after REDIS_KEY_PREFIX): `resp:r:<id>` the entry's JSON, `resp:i:<owner>:<item id>` a hash
// {r: response id, i: item JSON}, `resp:items-of:<id>` the item keys of a response, `resp:index` a
// sorted set of ids by time stored, `resp:sizes` a hash of their sizes, `resp:bytes` the total. The
// scripts name keys they build, so this needs one Redis (or a Sentinel-managed primary), not a
// Redis Cluster.
//
// Redis unreachable: reading fails with 503 `response_store_unavailable` (whatever
// REDIS_FAILURE_POLICY says: the conversation is not there to continue); keeping a response fails
// quietly (counted and logged by SharedRedis): the answer itself is still sent.
import { GatewayError } from '../server/errors.ts';
import type { SharedRedis } from '../server/redis.ts';
import type { InputItem } from './schemas/types.ts';
import type { MemoryStoreLimits, ResponseStore, StoredResponse } from './store.ts';

/** Removes one response, its items (those still its own) and its place in the bounds. */
const REMOVE = `
local function remove(prefix, id)
  local size = redis.call('HGET', KEYS[2], id)
  if size then
    redis.call('DECRBY', KEYS[3], size)
    redis.call('HDEL', KEYS[2], id)
  end
  redis.call('ZREM', KEYS[1], id)
  local itemsOf = prefix .. 'items-of:' .. id
  for _, itemKey in ipairs(redis.call('LRANGE', itemsOf, 0, -1)) do
    if redis.call('HGET', itemKey, 'r') == id then redis.call('DEL', itemKey) end
  end
  redis.call('DEL', prefix .. 'r:' .. id, itemsOf)
end
`;

/**
 * KEYS: index, sizes, bytes. ARGV: prefix, id, entry JSON, its size, TTL ms, max entries, max
 * bytes, then (owner:item id, item JSON) pairs. Time is Redis's, the same for every replica.
 */
const PUT =
  REMOVE +
  `
local prefix, id, ttl = ARGV[1], ARGV[2], tonumber(ARGV[5])
remove(prefix, id)
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('SET', prefix .. 'r:' .. id, ARGV[3], 'PX', ttl)
local itemsOf = prefix .. 'items-of:' .. id
for i = 8, #ARGV, 2 do
  local itemKey = prefix .. 'i:' .. ARGV[i]
  redis.call('HSET', itemKey, 'r', id, 'i', ARGV[i + 1])
  redis.call('PEXPIRE', itemKey, ttl)
  redis.call('RPUSH', itemsOf, itemKey)
end
if #ARGV >= 8 then redis.call('PEXPIRE', itemsOf, ttl) end
redis.call('ZADD', KEYS[1], now, id)
redis.call('HSET', KEYS[2], id, ARGV[4])
redis.call('INCRBY', KEYS[3], ARGV[4])
for _, old in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - ttl)) do remove(prefix, old) end
local maxEntries, maxBytes = tonumber(ARGV[6]), tonumber(ARGV[7])
while redis.call('ZCARD', KEYS[1]) > maxEntries or tonumber(redis.call('GET', KEYS[3]) or '0') > maxBytes do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if not oldest then break end
  remove(prefix, oldest)
end
return 1
`;

/** KEYS: index, sizes, bytes. ARGV: prefix, id. */
const DELETE =
  REMOVE +
  `
remove(ARGV[1], ARGV[2])
return 1
`;

interface StoreCommands {
  wxoResponsePut(...args: string[]): Promise<unknown>;
  wxoResponseDelete(...args: string[]): Promise<unknown>;
}

export class RedisResponseStore implements ResponseStore {
  readonly #redis: SharedRedis;
  readonly #limits: MemoryStoreLimits;
  readonly #prefix: string;
  readonly #keys: [string, string, string];
  readonly #commands: StoreCommands;

  constructor(redis: SharedRedis, limits: MemoryStoreLimits) {
    this.#redis = redis;
    this.#limits = limits;
    this.#prefix = `${redis.keyPrefix}resp:`;
    this.#keys = [`${this.#prefix}index`, `${this.#prefix}sizes`, `${this.#prefix}bytes`];
    redis.client.defineCommand('wxoResponsePut', { numberOfKeys: 3, lua: PUT });
    redis.client.defineCommand('wxoResponseDelete', { numberOfKeys: 3, lua: DELETE });
    this.#commands = redis.client as unknown as StoreCommands;
  }

  async get(id: string, owner: string): Promise<StoredResponse | undefined> {
    const json = await this.#read(() => this.#redis.client.get(`${this.#prefix}r:${id}`));
    if (json === null) return undefined;
    const stored = JSON.parse(json) as StoredResponse;
    return stored.owner === owner ? stored : undefined;
  }

  async put(stored: StoredResponse): Promise<void> {
    const id = stored.response.id;
    const json = JSON.stringify(stored);
    // What Redis holds for it: the entry and a copy of each item, in UTF-8 bytes (a character may
    // take 3), so that maxBytes bounds Redis's memory.
    let bytes = Buffer.byteLength(json);
    const items: string[] = [];
    for (const item of [...stored.items, ...(stored.response.output as InputItem[])]) {
      if (typeof item.id === 'string' && item.id !== '') {
        const itemJson = JSON.stringify(item);
        bytes += Buffer.byteLength(itemJson);
        items.push(`${stored.owner}:${item.id}`, itemJson);
      }
    }
    try {
      if (!this.#redis.usable) return this.#redis.failed('response_store');
      if (bytes > this.#limits.maxBytes) {
        // Too large to keep; as in memory, an earlier response of that id is gone too.
        await this.#commands.wxoResponseDelete(...this.#keys, this.#prefix, id);
      } else {
        await this.#commands.wxoResponsePut(
          ...this.#keys,
          this.#prefix,
          id,
          json,
          String(bytes),
          String(this.#limits.ttlMs),
          String(this.#limits.maxEntries),
          String(this.#limits.maxBytes),
          ...items,
        );
      }
      this.#redis.succeeded();
    } catch (error) {
      this.#redis.failed('response_store', error);
    }
  }

  async delete(id: string, owner: string): Promise<boolean> {
    if (!(await this.get(id, owner))) return false;
    await this.#read(() => this.#commands.wxoResponseDelete(...this.#keys, this.#prefix, id));
    return true;
  }

  async getItem(id: string, owner: string): Promise<InputItem | undefined> {
    const json = await this.#read(() => this.#redis.client.hget(`${this.#prefix}i:${owner}:${id}`, 'i'));
    return json === null ? undefined : (JSON.parse(json) as InputItem);
  }

  /** One Redis call of a request: its failure is a 503 (the stored conversation cannot be had). */
  async #read<T>(call: () => Promise<T>): Promise<T> {
    if (!this.#redis.usable) {
      this.#redis.failed('response_store');
      throw unavailable();
    }
    try {
      const result = await call();
      this.#redis.succeeded();
      return result;
    } catch (error) {
      this.#redis.failed('response_store', error);
      throw unavailable();
    }
  }
}

function unavailable(): GatewayError {
  return new GatewayError(
    503,
    'Stored responses cannot be reached right now (the gateway cannot reach Redis); retry shortly.',
    { kind: 'unavailable', code: 'response_store_unavailable', headers: { 'retry-after': '1' } },
  );
}
