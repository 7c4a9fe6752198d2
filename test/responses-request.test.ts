// The Responses request translator (src/responses/translate/request.ts), pure: recorded client
// requests (test/fixtures/responses/client-requests.json) and hand-made items → watsonx chat bodies.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { GatewayError } from '../src/server/errors.ts';
import type { CreateResponseRequest } from '../src/responses/schemas/request.ts';
import type { InputItem } from '../src/responses/schemas/types.ts';
import {
  NO_OUTPUT,
  type ResponsesRequestContext,
  toWatsonxChatRequest,
} from '../src/responses/translate/request.ts';

interface Recorded {
  client: string;
  op: string;
  body: CreateResponseRequest;
}
const recorded: Recorded[] = JSON.parse(
  readFileSync(new URL('./fixtures/responses/client-requests.json', import.meta.url), 'utf8'),
);
const find = (client: string, op: string): CreateResponseRequest => {
  const found = recorded.find((entry) => entry.client.includes(client) && entry.op === op);
  assert.ok(found, `${client} ${op}`);
  return structuredClone(found.body);
};

const context = (overrides: Partial<ResponsesRequestContext> = {}): ResponsesRequestContext => ({
  modelId: 'ibm/granite-4-h-small',
  defaultMaxOutputTokens: 16384,
  history: [],
  resolveItem: () => undefined,
  ...overrides,
});

const translate = (request: Record<string, unknown>, overrides: Partial<ResponsesRequestContext> = {}) =>
  toWatsonxChatRequest({ model: 'm', ...request } as CreateResponseRequest, context(overrides));

describe('recorded client requests', () => {
  test('every recorded request translates', () => {
    assert.equal(recorded.length, 25);
    for (const entry of recorded) {
      const { body } = toWatsonxChatRequest(entry.body, context());
      assert.ok(body.messages.length > 0, `${entry.client} ${entry.op}`);
      assert.equal(body.model_id, 'ibm/granite-4-h-small');
    }
  });

  test('Codex: developer messages become one system message, namespace tools are flattened, web_search is dropped, the budget is the model’s', () => {
    const request = find('codex', 'say-hi');
    const { body, dropped, tools } = toWatsonxChatRequest(request, context());
    assert.deepEqual(
      body.messages.map((message) => message.role),
      ['system', 'user', 'user'],
    );
    const system = body.messages[0]!.content as string;
    assert.match(system, /^You are a coding agent running in the Codex CLI/);
    assert.match(system, /<skills_instructions>[\s\S]*\n<permissions instructions>/);
    const names = body.tools!.map((tool) => tool.function.name);
    assert.deepEqual(names.slice(0, 2), ['exec_command', 'write_stdin']);
    assert.ok(names.includes('multi_agent_v1__spawn_agent'));
    assert.deepEqual(tools.get('multi_agent_v1__spawn_agent'), {
      kind: 'namespace',
      namespace: 'multi_agent_v1',
      name: 'spawn_agent',
    });
    assert.ok(!names.includes('web_search'));
    assert.deepEqual(dropped, ['tools[8]: web_search']);
    assert.equal(body.tool_choice_option, 'auto');
    assert.equal(body.max_completion_tokens, 16384);
    // reasoning: {summary: "auto"} without effort asks nothing of watsonx
    assert.equal(body.reasoning_effort, undefined);
    assert.equal(body.include_reasoning, undefined);
    // the exec_command schema goes as Codex wrote it (strict dropped)
    assert.deepEqual(
      body.tools![0]!.function.parameters,
      (request.tools![0] as { parameters: unknown }).parameters,
    );
    assert.equal('strict' in body.tools![0]!.function, false);
  });

  test('AI SDK tool-result turn: function_call + function_call_output → assistant tool_calls + tool message', () => {
    const { body } = toWatsonxChatRequest(
      find('@ai-sdk/openai', 'openai(default) tool-result turn (history supplied)'),
      context(),
    );
    assert.deepEqual(body.messages, [
      { role: 'user', content: 'What is the weather in Paris? Use the get_weather tool.' },
      {
        role: 'assistant',
        tool_calls: [
          {
            id: 'call_abc123',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_abc123', content: '{"city":"Paris","temp_c":21}' },
    ]);
  });

  test('LangChain tool-result turn: the empty assistant message before the call carries the call', () => {
    const { body } = toWatsonxChatRequest(
      find('langchain', 'ChatOpenAI(useResponsesApi) tool-result turn (history supplied)'),
      context(),
    );
    assert.deepEqual(
      body.messages.map((message) => [message.role, 'content' in message ? message.content : undefined]),
      [
        ['user', 'What is the weather in Paris? Use the get_weather tool.'],
        ['assistant', undefined],
        ['tool', '{"city":"Paris","temp_c":21}'],
      ],
    );
  });

  test('tool_choice {type: function, name} (LangChain functionCalling) names the function', () => {
    const { body } = toWatsonxChatRequest(
      find('langchain', 'ChatOpenAI(useResponsesApi) withStructuredOutput functionCalling'),
      context(),
    );
    assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'extract' } });
  });

  test('text.format json_schema (flat) and json_object → response_format; text: {} asks nothing', () => {
    const schema = toWatsonxChatRequest(
      find('@ai-sdk/openai', 'openai(default) generateObject'),
      context(),
    ).body;
    assert.equal(schema.response_format?.type, 'json_schema');
    assert.deepEqual(
      schema.response_format?.type === 'json_schema' && Object.keys(schema.response_format.json_schema),
      ['name', 'schema', 'strict'],
    );
    const object = toWatsonxChatRequest(
      find('langchain', 'ChatOpenAI(useResponsesApi) withStructuredOutput jsonMode'),
      context(),
    ).body;
    assert.deepEqual(object.response_format, { type: 'json_object' });
    const plain = toWatsonxChatRequest(
      find('langchain', 'ChatOpenAI(useResponsesApi) invoke'),
      context(),
    ).body;
    assert.equal(plain.response_format, undefined);
  });

  test('openai-node string input is one user message; Mastra’s system role stays system', () => {
    const node = toWatsonxChatRequest(find('openai@7', 'responses.create'), context()).body;
    assert.deepEqual(node.messages, [{ role: 'user', content: 'Say hi' }]);
    const mastra = toWatsonxChatRequest(find('mastra', 'Agent(api:responses).generate'), context()).body;
    assert.deepEqual(mastra.messages, [
      { role: 'system', content: 'You are helpful.' },
      { role: 'user', content: 'Say hi' },
    ]);
  });
});

describe('Codex CLI 0.171.0, both turns of a shell-command task (codex-turns.json)', () => {
  const turns: CreateResponseRequest[] = JSON.parse(
    readFileSync(new URL('./fixtures/responses/codex-turns.json', import.meta.url), 'utf8'),
  ).turns;

  test('turn 2: the exec_command call and its output become an assistant tool call and a tool message', () => {
    assert.equal(turns.length, 2);
    const { body, dropped } = toWatsonxChatRequest(turns[1]!, context());
    assert.deepEqual(
      body.messages.map((message) => message.role),
      ['system', 'user', 'user', 'assistant', 'tool'],
    );
    const assistant = body.messages[3]!;
    assert.ok(assistant.role === 'assistant');
    assert.equal(assistant.content, undefined);
    assert.deepEqual(assistant.tool_calls![0]!.function, {
      name: 'exec_command',
      arguments: '{"cmd":"echo hello-from-watsonx"}',
    });
    const tool = body.messages[4]!;
    assert.ok(tool.role === 'tool');
    assert.equal(tool.tool_call_id, assistant.tool_calls![0]!.id);
    assert.match(tool.content, /hello-from-watsonx/);
    assert.deepEqual(dropped, ['tools[8]: web_search']);
    assert.equal(body.tools!.length, 7 + 5);
  });
});

describe('request fields', () => {
  test('instructions lead as a system message, merged with a leading developer message', () => {
    const { body } = translate({
      instructions: 'Be brief.',
      input: [
        { type: 'message', role: 'developer', content: 'Use tools.' },
        { role: 'user', content: 'hi' },
      ] as never,
    });
    assert.deepEqual(body.messages, [
      { role: 'system', content: 'Be brief.\n\nUse tools.' },
      { role: 'user', content: 'hi' },
    ]);
  });

  test('max_output_tokens wins over the model budget; no budget (0) sends none', () => {
    assert.equal(translate({ input: 'x', max_output_tokens: 50 }).body.max_completion_tokens, 50);
    assert.equal(
      translate({ input: 'x' }, { defaultMaxOutputTokens: 0 }).body.max_completion_tokens,
      undefined,
    );
  });

  test('temperature and top_p pass; reasoning.effort → reasoning_effort (none → include_reasoning false)', () => {
    const { body } = translate({ input: 'x', temperature: 0.2, top_p: 0.9, reasoning: { effort: 'xhigh' } });
    assert.equal(body.temperature, 0.2);
    assert.equal(body.top_p, 0.9);
    assert.equal(body.reasoning_effort, 'high');
    assert.equal(translate({ input: 'x', reasoning: { effort: 'minimal' } }).body.reasoning_effort, 'low');
    assert.equal(translate({ input: 'x', reasoning: { effort: 'none' } }).body.include_reasoning, false);
    assert.throws(
      () => translate({ input: 'x', reasoning: { effort: 'huge' } }),
      (error: GatewayError) => error.status === 400 && error.param === 'reasoning.effort',
    );
  });

  test('input_image → image_url (detail original → high); text-only parts → one string; input_file refused', () => {
    const { body } = translate({
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is this?' },
            { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'original' },
          ],
        },
      ] as never,
    });
    assert.deepEqual(body.messages[0], {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'high' } },
      ],
    });
    assert.throws(
      () =>
        translate({
          input: [
            {
              role: 'user',
              content: [
                { type: 'input_file', file_id: 'f' },
                { type: 'input_image', image_url: 'x' },
              ],
            },
          ] as never,
        }),
      (error: GatewayError) => error.status === 400 && error.param === 'input[0].content[0]',
    );
  });

  test('assistant output_text and refusal parts → assistant text; reasoning items are dropped', () => {
    const { body, dropped } = translate({
      input: [
        { role: 'user', content: 'hi' },
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'thinking' }], encrypted_content: 'x' },
        {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'Hello', annotations: [] }],
        },
        { role: 'user', content: 'again' },
      ] as never,
    });
    assert.deepEqual(body.messages, [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'user', content: 'again' },
    ]);
    assert.deepEqual(dropped, []);
  });

  test('items watsonx chat cannot take (hosted tool calls) are dropped and reported', () => {
    const { body, dropped } = translate({
      input: [
        { role: 'user', content: 'hi' },
        { type: 'web_search_call', id: 'ws_1' },
      ] as never,
    });
    assert.equal(body.messages.length, 1);
    assert.deepEqual(dropped, ['input[1]: web_search_call']);
  });

  test('a call never answered gets a placeholder output; an output without its call is dropped', () => {
    const { body } = translate({
      input: [
        { role: 'user', content: 'hi' },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { role: 'user', content: 'never mind' },
        { type: 'function_call_output', call_id: 'nobody', output: 'x' },
      ] as never,
      tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }],
    });
    assert.deepEqual(
      body.messages.map((message) => [message.role, 'content' in message ? message.content : undefined]),
      [
        ['user', 'hi'],
        ['assistant', undefined],
        ['tool', NO_OUTPUT],
        ['user', 'never mind'],
      ],
    );
  });

  test('consecutive calls are one assistant message after its text; array outputs are joined text', () => {
    const { body } = translate({
      input: [
        { role: 'user', content: 'hi' },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Looking.' }] },
        { type: 'function_call', call_id: 'a', name: 'f', arguments: '{"x":1}' },
        { type: 'function_call', call_id: 'b', name: 'f', arguments: '' },
        {
          type: 'function_call_output',
          call_id: 'a',
          output: [
            { type: 'input_text', text: 'one' },
            { type: 'input_image', image_url: 'x' },
          ],
        },
        { type: 'function_call_output', call_id: 'b', output: 'two' },
      ] as never,
    });
    assert.deepEqual(body.messages.slice(1), [
      {
        role: 'assistant',
        content: 'Looking.',
        tool_calls: [
          { id: 'a', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
          { id: 'b', type: 'function', function: { name: 'f', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'a', content: 'one\n[image not forwarded]' },
      { role: 'tool', tool_call_id: 'b', content: 'two' },
    ]);
  });
});

describe('tools', () => {
  const applyPatch = {
    type: 'custom',
    name: 'apply_patch',
    description: 'Edit files.',
    format: { type: 'grammar', syntax: 'lark', definition: 'start: "*** Begin Patch"' },
  };

  test('a custom tool is a function with one string parameter `input`, its grammar in the description', () => {
    const { body, tools } = translate({ input: 'x', tools: [applyPatch] });
    assert.deepEqual(body.tools, [
      {
        type: 'function',
        function: {
          name: 'apply_patch',
          description: 'Edit files.\n\nThe input must follow this lark grammar:\nstart: "*** Begin Patch"',
          parameters: {
            type: 'object',
            properties: { input: { type: 'string', description: 'The raw input of apply_patch.' } },
            required: ['input'],
          },
        },
      },
    ]);
    assert.deepEqual(tools.get('apply_patch'), { kind: 'custom', name: 'apply_patch' });
  });

  test('replayed custom_tool_call and namespaced function_call items go back under their watsonx names', () => {
    const { body } = translate({
      input: [
        { role: 'user', content: 'x' },
        { type: 'custom_tool_call', call_id: 'c1', name: 'apply_patch', input: '*** Begin Patch' },
        { type: 'custom_tool_call_output', call_id: 'c1', output: 'Done' },
        { type: 'function_call', call_id: 'c2', name: 'spawn_agent', namespace: 'agents', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c2', output: 'ok' },
      ] as never,
    });
    const calls = body.messages.flatMap((message) =>
      message.role === 'assistant' ? (message.tool_calls ?? []) : [],
    );
    assert.deepEqual(
      calls.map((call) => call.function),
      [
        { name: 'apply_patch', arguments: '{"input":"*** Begin Patch"}' },
        { name: 'agents__spawn_agent', arguments: '{}' },
      ],
    );
  });

  test('hosted tools are dropped and reported, never refused; a hosted tool_choice leaves the choice to the model', () => {
    const { body, dropped } = translate({
      input: 'x',
      tools: [
        { type: 'web_search' },
        { type: 'file_search', vector_store_ids: [] },
        { type: 'function', name: 'f', parameters: { type: 'object' } },
      ],
      tool_choice: { type: 'web_search' },
    });
    assert.deepEqual(
      body.tools?.map((tool) => tool.function.name),
      ['f'],
    );
    assert.equal(body.tool_choice_option, undefined);
    assert.deepEqual(dropped, ['tools[0]: web_search', 'tools[1]: file_search', 'tool_choice: web_search']);
    assert.equal(translate({ input: 'x', tools: [{ type: 'web_search' }] }).body.tools, undefined);
  });

  test('tool_choice: none/auto/required, {type: custom}, allowed_tools; an unknown name is a 400', () => {
    const tools = [
      { type: 'function', name: 'f', parameters: { type: 'object' } },
      { type: 'function', name: 'g', parameters: { type: 'object' } },
      applyPatch,
    ];
    assert.equal(
      translate({ input: 'x', tools, tool_choice: 'required' }).body.tool_choice_option,
      'required',
    );
    assert.deepEqual(
      translate({ input: 'x', tools, tool_choice: { type: 'custom', name: 'apply_patch' } }).body.tool_choice,
      {
        type: 'function',
        function: { name: 'apply_patch' },
      },
    );
    const allowed = translate({
      input: 'x',
      tools,
      tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'g' }] },
    }).body;
    assert.deepEqual(
      allowed.tools?.map((tool) => tool.function.name),
      ['g'],
    );
    assert.equal(allowed.tool_choice_option, 'required');
    assert.throws(
      () => translate({ input: 'x', tools, tool_choice: { type: 'function', name: 'nope' } }),
      (error: GatewayError) => error.status === 400 && error.param === 'tool_choice.name',
    );
  });

  test('a tool name used twice is a 400 naming the tool', () => {
    assert.throws(
      () =>
        translate({
          input: 'x',
          tools: [
            { type: 'function', name: 'f' },
            { type: 'function', name: 'f' },
          ],
        }),
      (error: GatewayError) => error.status === 400 && error.param === 'tools[1].name',
    );
  });
});

describe('history and item references', () => {
  test('previous turns (history) come before the input', () => {
    const history: InputItem[] = [
      { type: 'message', role: 'user', content: 'first' },
      { type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text: 'one' }] },
    ];
    const { body, items } = translate({ input: 'second' }, { history });
    assert.deepEqual(body.messages, [
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'one' },
      { role: 'user', content: 'second' },
    ]);
    assert.equal(items.length, 3);
  });

  test('item_reference is replaced by the stored item; an unknown one is a 404 naming it', () => {
    const stored: InputItem = {
      type: 'function_call',
      id: 'fc_1',
      call_id: 'c1',
      name: 'f',
      arguments: '{}',
    };
    const { body, items } = translate(
      {
        input: [
          { role: 'user', content: 'x' },
          { type: 'item_reference', id: 'fc_1' },
          { type: 'function_call_output', call_id: 'c1', output: 'ok' },
        ] as never,
      },
      { resolveItem: (id) => (id === 'fc_1' ? stored : undefined) },
    );
    assert.equal(items[1], stored);
    assert.equal(body.messages[1]?.role, 'assistant');
    assert.throws(
      () => translate({ input: [{ type: 'item_reference', id: 'fc_gone' }] as never }),
      (error: GatewayError) =>
        error.status === 404 && error.code === 'item_not_found' && error.param === 'input[0].id',
    );
  });
});
