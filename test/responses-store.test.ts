// The in-memory response store (src/responses/store.ts): TTL, count and size bounds (oldest out
// first), items found by id only while their response is kept, delete.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryResponseStore } from '../src/responses/store.ts';
import type { ResponseObject } from '../src/responses/schemas/types.ts';

function stored(id: string, text = 'hi') {
  const response = {
    id,
    object: 'response',
    output: [{ type: 'message', id: `msg_${id}`, role: 'assistant', status: 'completed', content: [] }],
    output_text: text,
  } as unknown as ResponseObject;
  return { owner: '', response, items: [{ type: 'message', id: `in_${id}`, role: 'user', content: text }] };
}

describe('MemoryResponseStore', () => {
  test('keeps a response and its items for the TTL, then forgets both', async () => {
    let now = 0;
    const store = new MemoryResponseStore({ maxEntries: 10, maxBytes: 1e6, ttlMs: 1000, now: () => now });
    await store.put(stored('a'));
    assert.equal((await store.get('a', ''))?.response.id, 'a');
    assert.equal((await store.getItem('msg_a', ''))?.id, 'msg_a');
    assert.equal((await store.getItem('in_a', ''))?.id, 'in_a');
    now = 1000;
    assert.equal(await store.get('a', ''), undefined);
    assert.equal(await store.getItem('msg_a', ''), undefined);
    assert.equal(store.size, 0);
  });

  test('past maxEntries the oldest goes first', async () => {
    const store = new MemoryResponseStore({ maxEntries: 2, maxBytes: 1e6, ttlMs: 1e9 });
    for (const id of ['a', 'b', 'c']) await store.put(stored(id));
    assert.equal(await store.get('a', ''), undefined);
    assert.equal(await store.getItem('msg_a', ''), undefined);
    assert.ok(await store.get('b', ''));
    assert.ok(await store.get('c', ''));
  });

  test('past maxBytes the oldest goes first; an entry larger than the bound is not kept', async () => {
    const size = JSON.stringify(stored('a')).length;
    const store = new MemoryResponseStore({ maxEntries: 100, maxBytes: size * 2 + 10, ttlMs: 1e9 });
    for (const id of ['a', 'b', 'c']) await store.put(stored(id));
    assert.equal(await store.get('a', ''), undefined);
    assert.ok(await store.get('c', ''));
    await store.put(stored('big', 'x'.repeat(size * 3)));
    assert.equal(await store.get('big', ''), undefined);
    assert.ok(await store.get('c', ''));
  });

  test('delete says whether it was there; the items go with it', async () => {
    const store = new MemoryResponseStore({ maxEntries: 10, maxBytes: 1e6, ttlMs: 1e9 });
    await store.put(stored('a'));
    assert.equal(await store.delete('a', ''), true);
    assert.equal(await store.delete('a', ''), false);
    assert.equal(await store.getItem('msg_a', ''), undefined);
  });
});
