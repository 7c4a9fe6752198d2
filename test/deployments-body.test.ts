// The deployment body rules of src/watsonx/deployments.ts, pure: what the HTTP tests
// (deployments.test.ts) do not reach, such as a user message made of parts, or no user message.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEPLOYMENT_NAME,
  deploymentChatBody,
  deploymentGenerationBody,
  mergeSystemMessages,
} from '../src/watsonx/deployments.ts';
import type { WatsonxChatMessage, WatsonxChatRequest } from '../src/watsonx/types.ts';

describe('mergeSystemMessages', () => {
  test('system texts, joined by a blank line, go before the first user message only', () => {
    const merged = mergeSystemMessages([
      { role: 'system', content: 'One.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'system', content: 'Two.' },
      { role: 'user', content: 'Again' },
    ]);
    assert.deepEqual(merged, [
      { role: 'user', content: 'One.\n\nTwo.\n\nHi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'Again' },
    ]);
  });

  test('a user message of parts gets the system text as a first text part', () => {
    const merged = mergeSystemMessages([
      { role: 'system', content: 'Describe briefly.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        ],
      },
    ] as WatsonxChatMessage[]);
    assert.deepEqual(merged, [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Describe briefly.' },
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        ],
      },
    ]);
  });

  test('without a user message the system text becomes one; empty system messages are dropped', () => {
    assert.deepEqual(
      mergeSystemMessages([
        { role: 'system', content: 'Rules.' },
        { role: 'assistant', content: 'Ok' },
      ]),
      [
        { role: 'user', content: 'Rules.' },
        { role: 'assistant', content: 'Ok' },
      ],
    );
    assert.deepEqual(
      mergeSystemMessages([
        { role: 'system', content: '' },
        { role: 'user', content: 'Hi' },
      ]),
      [{ role: 'user', content: 'Hi' }],
    );
  });
});

describe('deployment bodies', () => {
  const body: WatsonxChatRequest = {
    model_id: 'deployment/x',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ],
    max_completion_tokens: 10,
  };

  test('chat: no model_id; system messages kept unless the deployment is a prompt template', () => {
    assert.deepEqual(deploymentChatBody(body, false), { messages: body.messages, max_completion_tokens: 10 });
    assert.deepEqual(deploymentChatBody(body, true), {
      messages: [{ role: 'user', content: 'Be brief.\n\nHi' }],
      max_completion_tokens: 10,
    });
    assert.equal(body.model_id, 'deployment/x', 'the request itself is not changed');
  });

  test('generation: no model_id, the rest as is', () => {
    assert.deepEqual(
      deploymentGenerationBody({ model_id: 'x', input: 'Once', parameters: { max_new_tokens: 5 } } as object),
      {
        input: 'Once',
        parameters: { max_new_tokens: 5 },
      },
    );
  });

  test('names: ids and serving names pass; nothing that could change the request path', () => {
    for (const name of ['9b1f7c2e-5d4a-4e8b-a6c3-2f0e1d9c8b7a', 'granite_chat', 'A-1']) {
      assert.ok(DEPLOYMENT_NAME.test(name), name);
    }
    for (const name of ['', '..', 'a/b', 'a%2Fb', 'a?b', 'a b', 'x'.repeat(129)]) {
      assert.equal(DEPLOYMENT_NAME.test(name), false, name);
    }
  });
});
