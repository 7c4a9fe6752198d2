// Checks every inference body shares (chat, generation, embeddings): the object itself, the
// container and model_id, counted fields. Codes/messages are not confirmed against IBM
// (docs/watsonx-api.md §9.2).
import type { SimulatedError } from './errors.ts';

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function invalid(message: string): SimulatedError {
  return {
    status: 400,
    code: 'json_validation_error',
    message: `Json document validation error: ${message}`,
  };
}

/** Narrows a route's "result or error" return value. */
export function isSimulatedError(value: unknown): value is SimulatedError {
  return isObject(value) && typeof value.code === 'string' && typeof value.status === 'number';
}

/** An object body with exactly one of project_id / space_id and a model_id, else the error. */
export function checkEnvelope(
  body: unknown,
): (Record<string, unknown> & { model_id: string }) | SimulatedError {
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
  return body as Record<string, unknown> & { model_id: string };
}

export function optionalCount(
  body: Record<string, unknown>,
  field: string,
  minimum: number,
  maximum = Number.MAX_SAFE_INTEGER,
  path = field,
): SimulatedError | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  return Number.isInteger(value) && (value as number) >= minimum && (value as number) <= maximum
    ? undefined
    : invalid(`${path}: must be an integer from ${minimum} to ${maximum}`);
}

export function optionalNumber(
  body: Record<string, unknown>,
  field: string,
  minimum: number,
  maximum: number,
  path = field,
): SimulatedError | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'number' && Number.isFinite(value) && value >= minimum && value <= maximum
    ? undefined
    : invalid(`${path}: must be a number from ${minimum} to ${maximum}`);
}
