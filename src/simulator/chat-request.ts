// Validation of a /text/chat body: the watsonx error a malformed request gets, or the typed request.
// Codes/messages for missing fields are not confirmed against IBM (docs/watsonx-api.md §9.2).
import type { WatsonxChatMessage, WatsonxChatRequest, WatsonxTool } from '../watsonx/types.ts';
import type { SimulatedError } from './errors.ts';
import { findModel, type SimulatedModel } from './models.ts';

export type ValidatedChat = {
  request: WatsonxChatRequest;
  model: SimulatedModel;
  raw: Record<string, unknown>;
};

const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'control']);
const SCHEMA_TYPES = ['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): SimulatedError {
  return {
    status: 400,
    code: 'json_validation_error',
    message: `Json document validation error: ${message}`,
  };
}

function optionalCount(
  body: Record<string, unknown>,
  field: string,
  minimum: number,
  maximum = Number.MAX_SAFE_INTEGER,
): SimulatedError | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  return Number.isInteger(value) && (value as number) >= minimum && (value as number) <= maximum
    ? undefined
    : invalid(`${field}: must be an integer from ${minimum} to ${maximum}`);
}

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
export function validateChatBody(body: unknown): ValidatedChat | SimulatedError {
  if (!isObject(body)) {
    return {
      status: 400,
      code: 'json_type_error',
      message: 'Json document type error: body must be an object',
    };
  }
  const containers = ['project_id', 'space_id'].filter(
    (field) => typeof body[field] === 'string' && body[field],
  );
  if (containers.length !== 1) return invalid("exactly one of 'project_id' or 'space_id' must be given");
  if (typeof body.model_id !== 'string' || body.model_id === '') return invalid("'model_id' is required");
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

  const model = findModel(body.model_id);
  if (!model) {
    return { status: 404, code: 'model_not_supported', message: `Model '${body.model_id}' is not supported` };
  }
  const request = body as unknown as WatsonxChatRequest;
  const unsupported = (fn: string): SimulatedError => ({
    status: 400,
    code: 'model_no_support_for_function',
    message: `Model '${model.model_id}' does not support function '${fn}'`,
  });
  if (hasImage(request.messages) && !model.vision) return unsupported('image_chat');
  if ((request.tools ?? []).length > 0 && !model.tools) return unsupported('function_calling');
  const choice = request.tool_choice;
  if (
    choice !== undefined &&
    !(request.tools ?? []).some((tool: WatsonxTool) => tool.function.name === choice?.function?.name)
  ) {
    return invalid('tool_choice: names a function that is not in tools');
  }
  return { request, model, raw: body };
}
