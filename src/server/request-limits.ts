// Caps on the lists a request may carry, the same on every API surface. Within BODY_LIMIT_MB a
// client could otherwise send a million tools or messages, and validating and translating them
// would hold the event loop for a second or more while every other request waits. The figures
// are above anything watsonx can use:
// - MAX_MESSAGES: 20,000 messages (or Responses input items). Each costs at least ~6 tokens of
//   chat template, so more would not fit the largest watsonx context (131,072 tokens).
// - MAX_TOOLS: 512 tools (OpenAI allows 128; Claude Code with many MCP servers sends more).
// - MAX_STOP_SEQUENCES: 16 stop sequences (OpenAI allows 4; watsonx is said to keep about 6).
// Past a cap, the request is refused by its schema: a 400 naming the field.
export const MAX_MESSAGES = 20_000;
export const MAX_TOOLS = 512;
export const MAX_STOP_SEQUENCES = 16;
