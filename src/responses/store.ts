// Stored responses (`store`, `previous_response_id`, `GET`/`DELETE /v1/responses/{id}`,
// `item_reference`) behind a small interface: in memory here, bounded in count and size, each entry
// kept for a TTL; a store shared by several replicas can implement the same interface.
import type { InputItem, ResponseObject } from './schemas/types.ts';

export interface StoredResponse {
  /** Whose it is (src/responses/owner.ts): only requests of the same owner see it or its items. */
  owner: string;
  response: ResponseObject;
  /** The conversation the response answered: earlier turns and its input, item references resolved. */
  items: InputItem[];
}

export interface ResponseStore {
  get(id: string, owner: string): Promise<StoredResponse | undefined>;
  put(entry: StoredResponse): Promise<void>;
  /** true when it was there (and the owner's). */
  delete(id: string, owner: string): Promise<boolean>;
  /** An input or output item of one of the owner's stored responses, by its id. */
  getItem(id: string, owner: string): Promise<InputItem | undefined>;
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

  async get(id: string, owner: string): Promise<StoredResponse | undefined> {
    const stored = this.#live(id)?.stored;
    return stored?.owner === owner ? stored : undefined;
  }

  async put(stored: StoredResponse): Promise<void> {
    const id = stored.response.id;
    this.#remove(id);
    const bytes = JSON.stringify(stored).length;
    if (bytes > this.#limits.maxBytes) return;
    const itemIds: string[] = [];
    for (const item of [...stored.items, ...(stored.response.output as InputItem[])]) {
      if (typeof item.id === 'string' && item.id !== '') {
        // Item ids may be chosen by clients: each owner has its own.
        const key = itemKey(stored.owner, item.id);
        this.#items.set(key, { responseId: id, item });
        itemIds.push(key);
      }
    }
    this.#entries.set(id, { stored, bytes, expiresAt: this.#now() + this.#limits.ttlMs, itemIds });
    this.#bytes += bytes;
    this.#evict();
  }

  async delete(id: string, owner: string): Promise<boolean> {
    if (this.#live(id)?.stored.owner !== owner) return false;
    this.#remove(id);
    return true;
  }

  async getItem(id: string, owner: string): Promise<InputItem | undefined> {
    const found = this.#items.get(itemKey(owner, id));
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

function itemKey(owner: string, id: string): string {
  return `${owner}\u0000${id}`;
}
