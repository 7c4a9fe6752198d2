// Stored responses belong to the gateway key that made them: another key can neither read, delete
// nor reference them, and item ids a client chose (`msg_1`) are kept apart per key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestGateway } from './helpers/gateway.ts';

const MODEL = 'ibm/granite-4-h-small';
const A = { authorization: 'Bearer tenant-a' };
const B = { authorization: 'Bearer tenant-b' };

test('stored responses and their items are per gateway key', async () => {
  const gateway = await startTestGateway({ env: { API_KEY: 'tenant-a,tenant-b' } });
  const create = (headers: Record<string, string>, input: unknown) =>
    gateway.inject({ method: 'POST', url: '/v1/responses', headers, payload: { model: MODEL, input } });
  const lastUserText = () => JSON.stringify(gateway.inferenceRequests().at(-1)?.body);
  try {
    const made = await create(A, [
      { type: 'message', id: 'msg_1', role: 'user', content: 'tenant A secret' },
    ]);
    assert.equal(made.statusCode, 200);
    const id = made.json().id as string;

    const readByB = await gateway.inject({ method: 'GET', url: `/v1/responses/${id}`, headers: B });
    assert.equal(readByB.statusCode, 404);
    const readByA = await gateway.inject({ method: 'GET', url: `/v1/responses/${id}`, headers: A });
    assert.equal(readByA.statusCode, 200);

    const chainedByB = await create(B, 'go on');
    assert.equal(chainedByB.statusCode, 200);
    const previousByB = await gateway.inject({
      method: 'POST',
      url: '/v1/responses',
      headers: B,
      payload: { model: MODEL, input: 'go on', previous_response_id: id },
    });
    assert.equal(previousByB.statusCode, 404);

    await create(B, [{ type: 'item_reference', id: 'msg_1' }]);
    assert.doesNotMatch(lastUserText(), /tenant A secret/, "B's reference does not reach A's item");

    await create(B, [{ type: 'message', id: 'msg_1', role: 'user', content: 'injected by B' }]);
    const referencedByA = await create(A, [{ type: 'item_reference', id: 'msg_1' }]);
    assert.equal(referencedByA.statusCode, 200);
    assert.match(lastUserText(), /tenant A secret/);
    assert.doesNotMatch(lastUserText(), /injected by B/);

    const deleteByB = await gateway.inject({ method: 'DELETE', url: `/v1/responses/${id}`, headers: B });
    assert.equal(deleteByB.statusCode, 404);
    const deleteByA = await gateway.inject({ method: 'DELETE', url: `/v1/responses/${id}`, headers: A });
    assert.equal(deleteByA.statusCode, 200);
  } finally {
    await gateway.close();
  }
});
