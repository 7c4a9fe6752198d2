// Responses tools → watsonx chat tools, and the names watsonx answers with → the item a client
// expects back. Pure. watsonx knows only function tools, so:
// - `function` tools go as they are (flat → nested under `function`);
// - `custom` (freeform) tools, Codex's `apply_patch` among them, become a function with one string
//   parameter `input`; their calls come back as `custom_tool_call` items with that string;
// - `namespace` tools (groups of functions, Codex's MCP and agent tools) are flattened to
//   `<namespace>__<name>` and their calls come back with `name` and `namespace` split again;
// - hosted tools (web search, file search, code interpreter, computer use, image generation, MCP,
//   local shell …) need a server that runs them: they are dropped and named in `dropped`, never
//   refused, because Codex sends `web_search` whenever it is enabled.
import { invalidRequest } from '../../server/errors.ts';
import type { WatsonxTool } from '../../watsonx/types.ts';
import type { RequestTool } from '../schemas/types.ts';

/** What a watsonx tool name stands for in the Responses API. */
export type ToolOrigin =
  | { kind: 'function'; name: string }
  | { kind: 'custom'; name: string }
  | { kind: 'namespace'; namespace: string; name: string };

export interface ToolTranslation {
  tools: WatsonxTool[];
  /** watsonx tool name → what it was in the request. */
  origins: Map<string, ToolOrigin>;
  /** `tools[i].type` of the tools left out (hosted tools). */
  dropped: string[];
}

export const NAMESPACE_SEPARATOR = '__';
/** The one parameter of a custom tool's stand-in function. */
export const CUSTOM_INPUT = 'input';

export function namespacedName(namespace: string, name: string): string {
  return `${namespace}${NAMESPACE_SEPARATOR}${name}`;
}

export function translateTools(tools: readonly RequestTool[] | null | undefined): ToolTranslation {
  const result: ToolTranslation = { tools: [], origins: new Map(), dropped: [] };
  for (const [index, tool] of (tools ?? []).entries()) {
    const param = `tools[${index}]`;
    switch (tool.type) {
      case 'function':
        add(result, functionTool(tool, param), { kind: 'function', name: tool.name! }, param);
        break;
      case 'custom':
        add(result, customTool(tool, param), { kind: 'custom', name: tool.name! }, param);
        break;
      case 'namespace': {
        const namespace = requireName(tool, param);
        for (const [inner, member] of (tool.tools ?? []).entries()) {
          const memberParam = `${param}.tools[${inner}]`;
          if (member.type !== 'function' && member.type !== 'custom') {
            result.dropped.push(`${memberParam}: ${String(member.type)}`);
            continue;
          }
          const base =
            member.type === 'custom' ? customTool(member, memberParam) : functionTool(member, memberParam);
          const flat = namespacedName(namespace, base.function.name);
          add(
            result,
            { type: 'function', function: { ...base.function, name: flat } },
            { kind: 'namespace', namespace, name: member.name! },
            memberParam,
          );
        }
        break;
      }
      default:
        result.dropped.push(`${param}: ${String(tool.type)}`);
    }
  }
  return result;
}

function add(result: ToolTranslation, tool: WatsonxTool, origin: ToolOrigin, param: string): void {
  if (result.origins.has(tool.function.name)) {
    throw invalidRequest(
      `${param}: the tool name '${tool.function.name}' is used twice`,
      `${param}.name`,
      'invalid_value',
    );
  }
  result.origins.set(tool.function.name, origin);
  result.tools.push(tool);
}

function requireName(tool: RequestTool, param: string): string {
  if (typeof tool.name !== 'string' || tool.name === '') {
    throw invalidRequest(
      `${param}: a ${String(tool.type)} tool needs a name`,
      `${param}.name`,
      'missing_required_parameter',
    );
  }
  return tool.name;
}

function functionTool(tool: RequestTool, param: string): WatsonxTool {
  const name = requireName(tool, param);
  // strict, defer_loading, allowed_callers and output_schema have no watsonx equivalent.
  return {
    type: 'function',
    function: {
      name,
      ...(typeof tool.description === 'string' && { description: tool.description }),
      parameters: tool.parameters ?? { type: 'object', properties: {} },
    },
  };
}

function customTool(tool: RequestTool, param: string): WatsonxTool {
  const name = requireName(tool, param);
  const format = tool.format;
  // A grammar cannot be enforced on watsonx: the model reads it instead.
  const grammar =
    format?.type === 'grammar' && typeof format.definition === 'string'
      ? `\n\nThe input must follow this ${format.syntax ?? ''} grammar:\n${format.definition}`
      : '';
  return {
    type: 'function',
    function: {
      name,
      description: `${tool.description ?? ''}${grammar}`.trim() || `The ${name} tool.`,
      parameters: {
        type: 'object',
        properties: { [CUSTOM_INPUT]: { type: 'string', description: `The raw input of ${name}.` } },
        required: [CUSTOM_INPUT],
      },
    },
  };
}

/** The watsonx name of a tool named in the request (`tool_choice`, replayed calls). */
export function watsonxToolName(name: string, namespace: string | undefined): string {
  return namespace ? namespacedName(namespace, name) : name;
}

/** A custom tool call's input from the stand-in function's arguments (the raw text if not JSON). */
export function customInput(argumentsJson: string): string {
  try {
    const parsed: unknown = JSON.parse(argumentsJson);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      const value = (parsed as Record<string, unknown>)[CUSTOM_INPUT];
      if (typeof value === 'string') return value;
      const values = Object.values(parsed);
      if (values.length === 1 && typeof values[0] === 'string') return values[0];
    }
    if (typeof parsed === 'string') return parsed;
  } catch {
    // not JSON: the model wrote the input itself
  }
  return argumentsJson;
}
