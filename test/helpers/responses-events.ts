// Checks a Responses API event sequence the way its strictest consumer (openai-node's stream
// accumulator) and Codex read it: response.created first, sequence numbers 0, 1, 2 …, one item open
// at a time, every delta naming the open item's id and the right item type, content and summary
// parts opened before their deltas, each item closed with output_item.done carrying the complete
// item, exactly one terminal event whose response has the same id and the done items as output.

export interface StreamEvent {
  type: string;
  sequence_number: number;
  [field: string]: unknown;
}

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);
const DELTA_ITEM_TYPE: Record<string, string> = {
  'response.output_text.delta': 'message',
  'response.output_text.done': 'message',
  'response.content_part.added': 'message',
  'response.content_part.done': 'message',
  'response.function_call_arguments.delta': 'function_call',
  'response.function_call_arguments.done': 'function_call',
  'response.custom_tool_call_input.delta': 'custom_tool_call',
  'response.custom_tool_call_input.done': 'custom_tool_call',
  'response.reasoning_summary_part.added': 'reasoning',
  'response.reasoning_summary_part.done': 'reasoning',
  'response.reasoning_summary_text.delta': 'reasoning',
  'response.reasoning_summary_text.done': 'reasoning',
};

/** Throws on the first broken rule; returns the terminal event's response. */
export function checkResponseEvents(events: StreamEvent[]): Record<string, unknown> & { output: unknown[] } {
  const fail = (index: number, message: string): never => {
    throw new Error(`event ${index} (${events[index]?.type}): ${message}`);
  };
  if (events[0]?.type !== 'response.created') fail(0, 'the first event must be response.created');
  const id = (events[0]!.response as { id: string }).id;
  let open: { id: string; type: string; index: number; parts: Set<number> } | undefined;
  const done: unknown[] = [];
  const ids = new Set<string>();
  let terminal: Record<string, unknown> | undefined;
  events.forEach((event, index) => {
    if (event.sequence_number !== index) fail(index, `sequence_number ${event.sequence_number}`);
    if (terminal) fail(index, 'an event after the terminal event');
    if (event.type === 'response.output_item.added') {
      if (open) fail(index, `item ${open.id} is still open`);
      const item = event.item as { id: string; type: string };
      if (!item.id || ids.has(item.id)) fail(index, `missing or duplicate item id ${item.id}`);
      if (event.output_index !== done.length) fail(index, `output_index ${String(event.output_index)}`);
      ids.add(item.id);
      open = { id: item.id, type: item.type, index: done.length, parts: new Set() };
      return;
    }
    if (event.type === 'response.output_item.done') {
      const item = event.item as { id: string; status?: string };
      if (!open || item.id !== open.id || event.output_index !== open.index) fail(index, 'not the open item');
      done.push(item);
      open = undefined;
      return;
    }
    const itemType = DELTA_ITEM_TYPE[event.type];
    if (itemType) {
      if (!open || event.item_id !== open.id || event.output_index !== open.index) {
        fail(index, `item_id ${String(event.item_id)} is not the open item`);
      }
      if (open!.type !== itemType) fail(index, `a ${itemType} event on a ${open!.type}`);
      const part = (event.content_index ?? event.summary_index) as number | undefined;
      if (event.type.endsWith('part.added')) open!.parts.add(part!);
      else if (part !== undefined && !open!.parts.has(part)) fail(index, `missing part ${part}`);
      return;
    }
    if (TERMINAL.has(event.type)) {
      const response = event.response as Record<string, unknown> & { id: string; output: unknown[] };
      if (open) fail(index, `item ${open.id} is still open`);
      if (response.id !== id) fail(index, 'the terminal response id differs from response.created');
      if (JSON.stringify(response.output) !== JSON.stringify(done))
        fail(index, 'output differs from the done items');
      terminal = response;
      return;
    }
    if (!['response.created', 'response.in_progress', 'error'].includes(event.type))
      fail(index, 'unknown event type');
  });
  if (!terminal) throw new Error('no terminal event');
  return terminal as Record<string, unknown> & { output: unknown[] };
}
