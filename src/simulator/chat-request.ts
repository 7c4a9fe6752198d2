// Validation of a /text/chat body: the watsonx error a malformed request gets, or the typed request.
// Codes/messages for missing fields are not confirmed against IBM (docs/watsonx-api.md §9.2).
import type { WatsonxChatMessage, WatsonxChatRequest, WatsonxTool } from '../watsonx/types.ts';
import { checkEnvelope, invalid, isObject, isSimulatedError, optionalCount } from './body-checks.ts';
import type { SimulatedError } from './errors.ts';
import {
  hasFunction,
  resolveModel,
  supportsTools,
  unsupportedFunction,
  type SimulatedModel,
} from './models.ts';

export type ValidatedChat = {
  request: WatsonxChatRequest;
  model: SimulatedModel;
  raw: Record<string, unknown>;
};

const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'control']);
const SCHEMA_TYPES = ['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'];

function checkTools(tools: unknown): SimulatedError | undefined {
  if (!Array.isArray(tools)) return invalid('tools: must be an array');
  for (const [index, tool] of tools.entries()) {
    const fn = isObject(tool) ? tool.function : undefined;
    if (!isObject(tool) || tool.type !== 'function' || !isObject(fn) || typeof fn.name !== 'string') {
      return invalid(`tools[${index}]: must be {"type":"function","function":{"name":...}}`);
    }
    const properties = isObject(fn.parameters) ? fn.parameters.properties : undefined;
    for (const [name, property] of Object.entries(isObject(properties) ? properties : {})) {
      const type = isObject(property) ? property.type : undefined;
      if (typeof type === 'string' && !SCHEMA_TYPES.includes(type)) {
        const allowed = SCHEMA_TYPES.map((entry) => `'${entry}'`).join(', ');
        return invalid(
          `tools[${index}].function.parameters: at '/properties/${name}/type': value must be one of ${allowed}`,
        );
      }
    }
  }
  return undefined;
}

function hasImage(messages: WatsonxChatMessage[]): boolean {
  return messages.some(
    (message) =>
      message.role === 'user' &&
      Array.isArray(message.content) &&
      message.content.some((part) => part.type !== 'text'),
  );
}

/** Checks in the order: container, model_id, messages, fields, model, capabilities. */
export function validateChatBody(input: unknown): ValidatedChat | SimulatedError {
  const body = checkEnvelope(input);
  if (isSimulatedError(body)) return body;
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return invalid("'messages' is required");
  for (const [index, message] of messages.entries()) {
    if (!isObject(message) || typeof message.role !== 'string' || !ROLES.has(message.role)) {
      return invalid(
        `messages[${index}].role: value must be one of 'system', 'user', 'assistant', 'tool', 'control'`,
      );
    }
  }
  if (body.tools !== undefined) {
    const toolError = checkTools(body.tools);
    if (toolError) return toolError;
  }
  const option = body.tool_choice_option;
  if (option !== undefined && option !== 'none' && option !== 'auto' && option !== 'required') {
    return invalid("tool_choice_option: value must be one of 'none', 'auto', 'required'");
  }
  const countError =
    optionalCount(body, 'n', 1, 16) ??
    optionalCount(body, 'max_completion_tokens', 0) ??
    optionalCount(body, 'max_tokens', 0);
  if (countError) return countError;

  const model = resolveModel(body.model_id, 'text_chat');
  if ('code' in model) return model;
  const request = body as unknown as WatsonxChatRequest;
  const unsupported = (fn: string) => unsupportedFunction(model, fn);
  if (hasImage(request.messages) && !hasFunction(model, 'image_chat')) return unsupported('image_chat');
  if ((request.tools ?? []).length > 0 && !supportsTools(model)) return unsupported('function_calling');
  const choice = request.tool_choice;
  if (
    choice !== undefined &&
    !(request.tools ?? []).some((tool: WatsonxTool) => tool.function.name === choice?.function?.name)
  ) {
    return invalid('tool_choice: names a function that is not in tools');
  }
  return { request, model, raw: body };
}
