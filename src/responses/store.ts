// Stored responses (`store`, `previous_response_id`, `GET`/`DELETE /v1/responses/{id}`,
// `item_reference`) behind a small interface: in memory here, bounded in count and size, each entry
// kept for a TTL; a store shared by several replicas can implement the same interface.
import type { InputItem, ResponseObject } from './schemas/types.ts';

export interface StoredResponse {
  response: ResponseObject;
  /** The conversation the response answered: earlier turns and its input, item references resolved. */
  items: InputItem[];
}

export interface ResponseStore {
  get(id: string): Promise<StoredResponse | undefined>;
  put(entry: StoredResponse): Promise<void>;
  /** true when it was there. */
  delete(id: string): Promise<boolean>;
  /** An input or output item of a stored response, by its id. */
  getItem(id: string): Promise<InputItem | undefined>;
}

export interface MemoryStoreLimits {
  maxEntries: number;
  /** Roughly the JSON size of all entries together. */
  maxBytes: number;
  ttlMs: number;
  /** Milliseconds clock (tests pass their own). */
  now?: () => number;
}

interface Entry {
  stored: StoredResponse;
  bytes: number;
  expiresAt: number;
  itemIds: string[];
}

export class MemoryResponseStore implements ResponseStore {
  readonly #limits: MemoryStoreLimits;
  readonly #now: () => number;
  /** In insertion order: the first entry is the oldest. */
  readonly #entries = new Map<string, Entry>();
  readonly #items = new Map<string, { responseId: string; item: InputItem }>();
  #bytes = 0;

  constructor(limits: MemoryStoreLimits) {
    this.#limits = limits;
    this.#now = limits.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  async get(id: string): Promise<StoredResponse | undefined> {
    return this.#live(id)?.stored;
  }

  async put(stored: StoredResponse): Promise<void> {
    const id = stored.response.id;
    this.#remove(id);
    const bytes = JSON.stringify(stored).length;
    if (bytes > this.#limits.maxBytes) return;
    const itemIds: string[] = [];
    for (const item of [...stored.items, ...(stored.response.output as InputItem[])]) {
      if (typeof item.id === 'string' && item.id !== '') {
        this.#items.set(item.id, { responseId: id, item });
        itemIds.push(item.id);
      }
    }
    this.#entries.set(id, { stored, bytes, expiresAt: this.#now() + this.#limits.ttlMs, itemIds });
    this.#bytes += bytes;
    this.#evict();
  }

  async delete(id: string): Promise<boolean> {
    const found = this.#live(id) !== undefined;
    this.#remove(id);
    return found;
  }

  async getItem(id: string): Promise<InputItem | undefined> {
    const found = this.#items.get(id);
    if (!found || !this.#live(found.responseId)) return undefined;
    return found.item;
  }

  #live(id: string): Entry | undefined {
    const entry = this.#entries.get(id);
    if (entry && entry.expiresAt <= this.#now()) {
      this.#remove(id);
      return undefined;
    }
    return entry;
  }

  #remove(id: string): void {
    const entry = this.#entries.get(id);
    if (!entry) return;
    this.#entries.delete(id);
    this.#bytes -= entry.bytes;
    for (const itemId of entry.itemIds) {
      if (this.#items.get(itemId)?.responseId === id) this.#items.delete(itemId);
    }
  }

  /** Oldest first: the expired, then whatever exceeds the count or size bound. */
  #evict(): void {
    const now = this.#now();
    for (const [id, entry] of this.#entries) {
      const over = this.#entries.size > this.#limits.maxEntries || this.#bytes > this.#limits.maxBytes;
      if (!over && entry.expiresAt > now) break;
      this.#remove(id);
    }
  }
}
