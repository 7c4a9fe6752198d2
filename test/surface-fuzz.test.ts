// Malformed bodies on the Responses and Anthropic routes: every one gets a 4xx in the route's own
// envelope (a field the schema or the translator names), never a 500 (the corpus comes from a review
// that found 500s on several of them).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestGateway } from './helpers/gateway.ts';

const M = 'ibm/granite-4-h-small';
const responses: object[] = [
  { model: M, input: [{ type: 'message', role: 'user', content: 5 }] },
  { model: M, input: [{ type: 'message', role: 'user', content: [null] }] },
  { model: M, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text' }] }] },
  { model: M, input: [{ type: 'message', role: 'bogus', content: 'x' }] },
  { model: M, input: [{ type: 'message', content: 'x' }] },
  { model: M, input: [{ type: 'function_call' }] },
  { model: M, input: [{ type: 'function_call_output' }] },
  {
    model: M,
    input: [
      { type: 'function_call', call_id: 'c', name: 'f', arguments: 5 },
      { type: 'function_call_output', call_id: 'c', output: [{ type: 'input_text', text: 'a' }] },
    ],
  },
  { model: M, input: [{ type: 'custom_tool_call_output', call_id: 'x', output: { a: 1 } }] },
  { model: M, input: [{ type: 'message', role: 'user', content: [{ type: 'input_image' }] }] },
  { model: M, input: [{ type: 'message', role: 'user', content: [{ type: 'input_image', image_url: 5 }] }] },
  { model: M, input: 'x', tools: [{ type: 'function' }] },
  { model: M, input: 'x', tools: [{ type: 'namespace', name: 'n', tools: 5 }] },
  { model: M, input: 'x', tools: [{ type: 'namespace', name: 'n', tools: [null] }] },
  { model: M, input: 'x', tools: [{ type: 'custom', name: 'c', format: 5 }] },
  { model: M, input: 'x', tools: [{ type: 'function', name: 'f' }], tool_choice: { type: 'allowed_tools' } },
  {
    model: M,
    input: 'x',
    tools: [{ type: 'function', name: 'f' }],
    tool_choice: { type: 'allowed_tools', tools: [null] },
  },
  { model: M, input: 'x', tools: [{ type: 'function', name: 'f' }], tool_choice: { type: 'function' } },
  { model: M, input: 'x', tools: [{ type: 'function', name: 'f' }], tool_choice: 'bogus' },
  { model: M, input: 'x', text: { format: { type: 'json_schema' } } },
  { model: M, input: 'x', text: { format: { type: 'json_schema', schema: 5 } } },
  { model: M, input: 'x', text: { format: { type: 'bogus' } } },
  { model: M, input: 'x', reasoning: { effort: 'bogus' } },
  { model: M, input: [{ type: 'reasoning', summary: 5 }] },
  { model: M, input: [{ type: 'item_reference', id: 5 }] },
  { model: M, input: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text' }] }] },
  {
    model: M,
    input: [{ type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: 'no' }] }],
  },
  { model: M, input: [] },
  { model: M },
];
const anthropic: object[] = [
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: [null] }] },
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'text' }] }] },
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'tool_result' }] }] },
  {
    model: M,
    max_tokens: 10,
    messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'a', content: [null] }] }],
  },
  {
    model: M,
    max_tokens: 10,
    messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'a', content: 5 }] }],
  },
  {
    model: M,
    max_tokens: 10,
    messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'b', input: 'x' }] }],
  },
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'image' }] }] },
  {
    model: M,
    max_tokens: 10,
    messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64' } }] }],
  },
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'document', source: 5 }] }] },
  {
    model: M,
    max_tokens: 10,
    messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'content', content: 5 } }] }],
  },
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'x' }] },
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: 'x' }], tools: [null] },
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: 'x' }], tool_choice: { type: 'tool' } },
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: 'x' }], system: [{ type: 'text' }] },
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: 'x' }], system: [null] },
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: 'x' }], thinking: { type: 'enabled' } },
  { model: M, max_tokens: 10, messages: [{ role: 'user', content: 'x' }], output_config: { format: 5 } },
  {
    model: M,
    max_tokens: 10,
    messages: [{ role: 'user', content: 'x' }],
    output_config: { format: { type: 'json_schema' } },
  },
  {
    model: M,
    max_tokens: 10,
    messages: [{ role: 'user', content: 'x' }],
    output_config: { effort: 'bogus' },
  },
  {
    model: M,
    max_tokens: 10,
    messages: [
      { role: 'system', content: [null] },
      { role: 'user', content: 'x' },
    ],
  },
  { model: M, max_tokens: 10, messages: [] },
];
test('malformed Responses and Anthropic bodies get a 4xx, never a 500', async () => {
  const gateway = await startTestGateway();
  const failures: string[] = [];
  try {
    const cases: Array<[string, object]> = [
      ...responses.flatMap((body): Array<[string, object]> => [
        ['/v1/responses', body],
        ['/v1/responses', { ...body, stream: true }],
      ]),
      ...anthropic.flatMap((body): Array<[string, object]> => [
        ['/v1/messages', body],
        ['/v1/messages', { ...body, stream: true }],
        ['/v1/messages/count_tokens', body],
      ]),
    ];
    for (const [url, payload] of cases) {
      const response = await gateway.inject({ method: 'POST', url, payload });
      if (response.statusCode >= 500)
        failures.push(
          `${url} ${JSON.stringify(payload)} → ${response.statusCode}: ${response.body.slice(0, 200)}`,
        );
    }
  } finally {
    await gateway.close();
  }
  assert.deepEqual(failures, []);
});
