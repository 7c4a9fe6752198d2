// How fast V8 may grow the heap, by how many streams are open. After a full GC V8 lets the old
// generation grow up to 4× what survived before collecting it again. An open stream keeps its state
// (sockets, parsers, relay) long enough to reach the old generation, so with 1000 open streams the
// heap ballooned: RSS peaked near 160 MB. While TIGHT_HEAP_STREAMS or more streams are open the
// gateway asks V8 to grow it by 10 % at a time instead, with one full collection at the switch
// (V8 sets the next limit only when it collects; the pause is a few ms); below half that it gives
// V8 its default back. Not always on: short requests that make megabytes of garbage each (100 × 768
// embeddings) cost 60–100 % more CPU under the tight setting (bench/README.md).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const TIGHT_HEAP_GROWTH_FLAG = '--heap-growing-percent=10';
/** V8's default: its own growing factor (between 1.1 and 4). */
export const DEFAULT_HEAP_GROWTH_FLAG = '--heap-growing-percent=0';

export class StreamHeapPolicy {
  readonly #tightenAt: number;
  readonly #relaxAt: number;
  readonly #setFlags: (flags: string) => void;
  readonly #onChange: (tight: boolean) => void;
  readonly #collect: () => void;
  #open = 0;
  #tight = false;

  /** `tightenAt` 0 turns the policy off. */
  constructor(options: {
    tightenAt: number;
    setFlags?: (flags: string) => void;
    onChange?: (tight: boolean) => void;
    /** A full collection (default: V8's gc(), made reachable for this). */
    collect?: () => void;
  }) {
    this.#tightenAt = options.tightenAt;
    this.#relaxAt = Math.floor(options.tightenAt / 2);
    this.#setFlags = options.setFlags ?? setFlagsFromString;
    this.#onChange = options.onChange ?? (() => {});
    this.#collect = options.collect ?? fullCollection;
  }

  get tight(): boolean {
    return this.#tight;
  }

  streamOpened(): void {
    this.#open += 1;
    if (!this.#tight && this.#tightenAt > 0 && this.#open >= this.#tightenAt) this.#set(true);
  }

  streamClosed(): void {
    this.#open -= 1;
    if (this.#tight && this.#open <= this.#relaxAt) this.#set(false);
  }

  #set(tight: boolean): void {
    this.#tight = tight;
    this.#setFlags(tight ? TIGHT_HEAP_GROWTH_FLAG : DEFAULT_HEAP_GROWTH_FLAG);
    if (tight) this.#collect();
    this.#onChange(tight);
  }
}

let gc: (() => void) | undefined;

/** V8's gc(): exposed once, then taken from a fresh context (the main one keeps no global `gc`). */
function fullCollection(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
