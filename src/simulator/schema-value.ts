// Builds a deterministic JSON value from a JSON schema: tool-call arguments and json_schema answers.

/** Hands out the numbers found in the user's message, in order; 1 once they run out. */
export class NumberSource {
  #numbers: number[];
  #next = 0;

  constructor(text: string) {
    this.#numbers = (text.match(/-?\d+(?:\.\d+)?/g) ?? []).map(Number);
  }

  take(): number {
    const value = this.#numbers[this.#next];
    if (value === undefined) return 1;
    this.#next += 1;
    return value;
  }
}

type Schema = Record<string, unknown>;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function schemaType(schema: Schema): string | undefined {
  const type = schema.type;
  if (typeof type === 'string') return type;
  if (Array.isArray(type))
    return type.find((entry): entry is string => typeof entry === 'string' && entry !== 'null');
  if (isSchema(schema.properties)) return 'object';
  if (schema.items !== undefined) return 'array';
  return undefined;
}

/**
 * Every property (required or not, in declaration order): numbers from the message (else 1),
 * strings "example", booleans true, enums their first value, arrays [], objects recursively.
 */
export function valueFromSchema(schema: unknown, numbers: NumberSource): unknown {
  if (!isSchema(schema)) return {};
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternatives) && alternatives.length > 0 && schemaType(schema) === undefined) {
    return valueFromSchema(alternatives[0], numbers);
  }
  switch (schemaType(schema)) {
    case 'object': {
      const result: Record<string, unknown> = {};
      const properties = isSchema(schema.properties) ? schema.properties : {};
      for (const [name, property] of Object.entries(properties)) {
        result[name] = valueFromSchema(property, numbers);
      }
      return result;
    }
    case 'array':
      return [];
    case 'integer':
      return Math.trunc(numbers.take());
    case 'number':
      return numbers.take();
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return 'example';
  }
}

/** Tool arguments: always an object, `{}` for a tool without parameters or properties. */
export function argumentsFromSchema(parameters: unknown, numbers: NumberSource): Record<string, unknown> {
  const value =
    isSchema(parameters) && isSchema(parameters.properties) ? valueFromSchema(parameters, numbers) : {};
  return isSchema(value) ? value : {};
}
