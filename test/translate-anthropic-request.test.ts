// Anthropic Messages request → watsonx chat body (src/anthropic/translate/messages-request.ts), on
// Claude Code's recorded first request and on hand-made conversations. Pure: no server.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { MessagesRequest } from '../src/anthropic/schemas/messages.ts';
import { estimateInputTokens } from '../src/anthropic/translate/count-tokens.ts';
import {
  toWatsonxChatRequest,
  toWatsonxPrompt,
  wantsThinking,
} from '../src/anthropic/translate/messages-request.ts';
import { GatewayError } from '../src/server/errors.ts';

const claudeCode = JSON.parse(
  readFileSync(new URL('./fixtures/claude-code-messages-request.json', import.meta.url), 'utf8'),
) as MessagesRequest;

const textsOf = (blocks: unknown) => (blocks as Array<{ text: string }>).map((block) => block.text);

const context = { modelId: 'ibm/granite-4-h-small', maxOutputTokens: 16384 };
const translate = (request: Partial<MessagesRequest>) =>
  toWatsonxChatRequest({ model: 'm', max_tokens: 100, messages: [], ...request } as MessagesRequest, context);

function refused(run: () => unknown, param: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.status, 400);
    assert.equal(error.param, param);
    return true;
  });
}

describe("Claude Code's recorded request (claude -p 'say hi', 2.1.332)", () => {
  const { body, dropped } = toWatsonxChatRequest(claudeCode, context);

  test('one leading system message: the system blocks, then the role:"system" entry of messages', () => {
    assert.equal(body.messages[0]!.role, 'system');
    const system = body.messages[0]!.content as string;
    const blocks = textsOf(claudeCode.system);
    const [inMessages] = textsOf(claudeCode.messages[1]!.content);
    assert.equal(system, [...blocks, inMessages].join('\n\n'));
    assert.equal(
      body.messages.filter((message) => message.role === 'system').length,
      1,
      'no system message after the first',
    );
  });

  test("the user turn's text blocks become one string (cache_control dropped)", () => {
    assert.equal(body.messages.length, 2);
    const user = body.messages[1]!;
    assert.equal(user.role, 'user');
    const [reminder, prompt] = textsOf(claudeCode.messages[0]!.content);
    assert.equal(user.content, `${reminder}\n${prompt}`);
  });

  test('12 tools become 12 functions with their input_schema; defer_loading and other keys are left out', () => {
    assert.equal(body.tools?.length, 12);
    assert.deepEqual(
      body.tools!.map((tool) => tool.function.name),
      claudeCode.tools!.map((tool) => tool.name),
    );
    const bash = body.tools!.find((tool) => tool.function.name === 'Bash')!;
    assert.deepEqual(bash.function.parameters, claudeCode.tools![1]!.input_schema);
    assert.deepEqual(Object.keys(body.tools![10]!), ['type', 'function']);
    assert.deepEqual(Object.keys(body.tools![10]!.function), ['name', 'description', 'parameters']);
    assert.deepEqual(dropped, []);
  });

  test('max_tokens 128000 is clamped to the model output limit; effort medium → reasoning_effort', () => {
    assert.equal(body.max_completion_tokens, 16384);
    assert.equal(body.reasoning_effort, 'medium');
  });

  test('thinking adaptive with display "omitted": no thinking blocks in the answer', () => {
    assert.equal(wantsThinking(claudeCode), false);
  });

  test('metadata, context_management, stream and cache_control are not sent', () => {
    const keys = Object.keys(body).sort();
    assert.deepEqual(keys, ['max_completion_tokens', 'messages', 'model_id', 'reasoning_effort', 'tools']);
    assert.doesNotMatch(JSON.stringify(body), /cache_control|ephemeral/);
  });

  test('count_tokens: the same prompt, estimated at 4 characters a token, plus 4 a message', () => {
    const prompt = toWatsonxPrompt(claudeCode, context.modelId).body;
    assert.deepEqual(prompt.messages, body.messages);
    const characters =
      (body.messages[0]!.content as string).length +
      (body.messages[1]!.content as string).length +
      JSON.stringify(body.tools).length;
    assert.equal(estimateInputTokens(prompt), Math.ceil(characters / 4) + 8);
  });
});

describe('a tool round trip, as Claude Code sends it back', () => {
  const { body } = translate({
    system: 'You are terse.',
    messages: [
      { role: 'user', content: 'List the files' },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Use Bash.', signature: 'wx.abc' },
          { type: 'redacted_thinking', data: 'xyz' },
          { type: 'text', text: 'Let me look.' },
          { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: 'ls' } },
          { type: 'tool_use', id: 'toolu_2', name: 'Read', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'a.txt\nb.txt' },
          {
            type: 'tool_result',
            tool_use_id: 'toolu_2',
            is_error: true,
            content: [
              { type: 'text', text: 'no such file' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
            ],
          },
          { type: 'text', text: 'Now summarise.' },
        ],
      },
    ],
  });

  test('assistant text and tool_use blocks → content and tool_calls (input JSON-encoded); thinking dropped', () => {
    assert.deepEqual(body.messages[2], {
      role: 'assistant',
      content: 'Let me look.',
      tool_calls: [
        { id: 'toolu_1', type: 'function', function: { name: 'Bash', arguments: '{"command":"ls"}' } },
        { id: 'toolu_2', type: 'function', function: { name: 'Read', arguments: '{}' } },
      ],
    });
  });

  test('tool_result blocks → tool messages first, in order; is_error → "Error: "; images in results → "[image omitted]"; then the text', () => {
    assert.deepEqual(body.messages.slice(3), [
      { role: 'tool', tool_call_id: 'toolu_1', content: 'a.txt\nb.txt' },
      { role: 'tool', tool_call_id: 'toolu_2', content: 'Error: no such file\n[image omitted]' },
      { role: 'user', content: 'Now summarise.' },
    ]);
  });

  test('an assistant turn of tool calls only has no content', () => {
    const only = translate({
      messages: [
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: 't', name: 'Bash', input: { command: 'ls' } }],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't' }] },
      ],
    }).body;
    assert.equal('content' in only.messages[1]!, false);
    assert.deepEqual(only.messages[2], { role: 'tool', tool_call_id: 't', content: '' });
    assert.equal(only.messages.length, 3, 'a user turn of tool results only adds no user message');
  });
});

describe('content, merging and the system prompt', () => {
  test('system as a string; images (base64 → data URL, url) keep a user content array', () => {
    const { body } = translate({
      system: 'Be brief.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBOR' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/a.jpg' } },
          ],
        },
      ],
    });
    assert.deepEqual(body.messages, [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBOR' } },
          { type: 'image_url', image_url: { url: 'https://example.com/a.jpg' } },
        ],
      },
    ]);
  });

  test('consecutive user messages merge; consecutive assistant texts merge; empty text blocks are left out', () => {
    const { body } = translate({
      messages: [
        { role: 'user', content: 'one' },
        {
          role: 'user',
          content: [
            { type: 'text', text: '' },
            { type: 'text', text: 'two' },
          ],
        },
        { role: 'assistant', content: 'three' },
        { role: 'assistant', content: [{ type: 'text', text: 'four' }] },
      ],
    });
    assert.deepEqual(body.messages, [
      { role: 'user', content: 'one\n\ntwo' },
      { role: 'assistant', content: 'three\n\nfour' },
    ]);
  });

  test('a text document becomes text; server-tool blocks are dropped and reported', () => {
    const { body, dropped } = translate({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'doc body' } },
            { type: 'search_result', source: 'x', title: 't', content: [] },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'server_tool_use', id: 's', name: 'web_search', input: {} },
            { type: 'web_search_tool_result', tool_use_id: 's', content: [] },
            { type: 'text', text: 'found' },
          ],
        },
      ],
    });
    assert.deepEqual(body.messages, [
      { role: 'user', content: 'doc body' },
      { role: 'assistant', content: 'found' },
    ]);
    assert.equal(dropped.length, 3);
  });

  test('refused with 400 and the block named: unknown blocks, file images, PDF documents, no messages', () => {
    refused(
      () => translate({ messages: [{ role: 'user', content: [{ type: 'audio' }] }] }),
      'messages[0].content[0].type',
    );
    refused(
      () =>
        translate({
          messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }],
        }),
      'messages[0].content[0].source',
    );
    refused(
      () =>
        translate({
          messages: [
            {
              role: 'user',
              content: [
                { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'x' } },
              ],
            },
          ],
        }),
      'messages[0].content[0].source',
    );
    refused(() => translate({ messages: [] }), 'messages');
    refused(
      () => translate({ system: [{ type: 'image' }], messages: [{ role: 'user', content: 'x' }] }),
      'system[0]',
    );
  });
});

describe('tools, tool_choice and parameters', () => {
  const tools = [
    { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: {} } },
    { type: 'web_search_20250305', name: 'web_search', max_uses: 5 },
    { type: 'bash_20250124', name: 'bash' },
  ];
  const messages: MessagesRequest['messages'] = [{ role: 'user', content: 'hi' }];

  test("server tools (a dated type) are dropped and reported; a client tool's unknown keys are ignored", () => {
    const { body, dropped } = translate({
      messages,
      tools: [...tools, { name: 'x', input_schema: { type: 'object' }, input_examples: [{}], strict: true }],
    } as Partial<MessagesRequest>);
    assert.deepEqual(
      body.tools?.map((tool) => tool.function.name),
      ['get_weather', 'x'],
    );
    assert.deepEqual(body.tools?.[1], {
      type: 'function',
      function: { name: 'x', parameters: { type: 'object' } },
    });
    assert.deepEqual(dropped, ['tool web_search (web_search_20250305)', 'tool bash (bash_20250124)']);
  });

  test('tool_choice auto / any / none / tool → tool_choice_option auto / required / none, tool_choice function', () => {
    const choice = (tool_choice: MessagesRequest['tool_choice']) =>
      translate({ messages, tools, tool_choice }).body;
    assert.equal(choice({ type: 'auto' }).tool_choice_option, 'auto');
    assert.equal(choice({ type: 'any', disable_parallel_tool_use: true }).tool_choice_option, 'required');
    assert.equal(choice({ type: 'none' }).tool_choice_option, 'none');
    assert.deepEqual(choice({ type: 'tool', name: 'get_weather' }).tool_choice, {
      type: 'function',
      function: { name: 'get_weather' },
    });
    refused(() => choice({ type: 'tool', name: 'web_search' }), 'tool_choice.name');
    refused(() => choice({ type: 'sometimes' }), 'tool_choice.type');
    assert.equal(translate({ messages, tool_choice: { type: 'any' } }).body.tool_choice_option, undefined);
  });

  test('stop_sequences → stop; temperature and top_p pass; top_k is not sent; max_tokens below the limit is kept', () => {
    const { body } = translate({
      messages,
      max_tokens: 300,
      stop_sequences: ['END'],
      temperature: 0.2,
      top_p: 0.9,
      top_k: 40,
    });
    assert.deepEqual(
      { stop: body.stop, temperature: body.temperature, top_p: body.top_p, max: body.max_completion_tokens },
      { stop: ['END'], temperature: 0.2, top_p: 0.9, max: 300 },
    );
    assert.equal('top_k' in body, false);
  });

  test('thinking: enabled → reasoning_effort by budget_tokens and thinking blocks; disabled → neither', () => {
    const effort = (thinking: MessagesRequest['thinking']) =>
      translate({ messages, thinking }).body.reasoning_effort;
    assert.equal(effort({ type: 'enabled', budget_tokens: 1024 }), 'low');
    assert.equal(effort({ type: 'enabled', budget_tokens: 8000 }), 'medium');
    assert.equal(effort({ type: 'enabled', budget_tokens: 32000 }), 'high');
    assert.equal(effort({ type: 'adaptive' }), undefined);
    assert.equal(effort({ type: 'disabled' }), undefined);
    assert.equal(translate({ messages, output_config: { effort: 'max' } }).body.reasoning_effort, 'high');
    const request = { model: 'm', max_tokens: 1, messages } as MessagesRequest;
    assert.equal(wantsThinking({ ...request, thinking: { type: 'enabled', budget_tokens: 1024 } }), true);
    assert.equal(wantsThinking({ ...request, thinking: { type: 'adaptive' } }), true);
    assert.equal(wantsThinking({ ...request, thinking: { type: 'disabled' } }), false);
    assert.equal(wantsThinking(request), false);
    refused(() => translate({ messages, output_config: { effort: 'extreme' } }), 'output_config.effort');
  });

  test('output_config.format json_schema → response_format json_schema (strict)', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const { body } = translate({ messages, output_config: { format: { type: 'json_schema', schema } } });
    assert.deepEqual(body.response_format, {
      type: 'json_schema',
      json_schema: { name: 'output', schema, strict: true },
    });
  });
});
