// How fast V8 may grow the heap, by how many streams are open. After a full GC V8 lets the old
// generation grow up to 4× what survived before collecting it again. An open stream keeps its state
// (sockets, parsers, relay) long enough to reach the old generation, so with 1000 open streams the
// heap ballooned: RSS peaked near 160 MB. While TIGHT_HEAP_STREAMS or more streams are open the
// gateway asks V8 to grow it by 10 % at a time instead, with one full collection at the switch
// (V8 sets the next limit only when it collects; a pause of a few ms, at most one per 10 s); below
// half that it gives V8 its default back. Not always on: short requests that make megabytes of
// garbage each (100 × 768 embeddings) cost 60–100 % more CPU under the tight setting
// (bench/README.md). V8's flags are the process's, so the count of open streams is too.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const TIGHT_HEAP_GROWTH_FLAG = '--heap-growing-percent=10';
/** V8's default: its own growing factor (between 1.1 and 4). */
export const DEFAULT_HEAP_GROWTH_FLAG = '--heap-growing-percent=0';
/** The smallest TIGHT_HEAP_STREAMS (other than 0, off): each switch may cost a full collection. */
export const MIN_TIGHT_HEAP_STREAMS = 10;
/** Forced collections at a switch are at least this far apart (the flag still changes). */
const COLLECT_COOLDOWN_MS = 10_000;

/** Open streams and the current setting: one per process, like the V8 flag itself. */
export interface HeapState {
  open: number;
  tight: boolean;
  lastCollect: number;
}

export function newHeapState(): HeapState {
  return { open: 0, tight: false, lastCollect: -Infinity };
}

const processState = newHeapState();

/** Whether the process's heap grows in small steps now (gateway_tight_heap_growth). */
export function heapGrowthTight(): boolean {
  return processState.tight;
}

/** An operator who set --heap-growing-percent keeps it: the policy is then off. */
export function operatorSetsHeapGrowth(): boolean {
  return [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((arg) =>
    /^--heap[-_]growing[-_]percent/.test(arg),
  );
}

export class StreamHeapPolicy {
  readonly #tightenAt: number;
  readonly #relaxAt: number;
  readonly #setFlags: (flags: string) => void;
  readonly #collect: () => void;
  readonly #state: HeapState;
  readonly #now: () => number;

  /** `tightenAt` 0 turns the policy off. Tests pass their own state, flags and collection. */
  constructor(options: {
    tightenAt: number;
    setFlags?: (flags: string) => void;
    collect?: () => void;
    state?: HeapState;
    now?: () => number;
  }) {
    this.#tightenAt = options.tightenAt;
    this.#relaxAt = Math.floor(options.tightenAt / 2);
    this.#setFlags = options.setFlags ?? setFlagsFromString;
    this.#collect = options.collect ?? fullCollection;
    this.#state = options.state ?? processState;
    this.#now = options.now ?? performance.now.bind(performance);
  }

  get tight(): boolean {
    return this.#state.tight;
  }

  streamOpened(): void {
    const state = this.#state;
    state.open += 1;
    if (!state.tight && this.#tightenAt > 0 && state.open >= this.#tightenAt) {
      state.tight = true;
      this.#setFlags(TIGHT_HEAP_GROWTH_FLAG);
      const now = this.#now();
      if (now - state.lastCollect >= COLLECT_COOLDOWN_MS) {
        state.lastCollect = now;
        this.#collect();
      }
    }
  }

  streamClosed(): void {
    const state = this.#state;
    state.open -= 1;
    if (state.tight && state.open <= this.#relaxAt) {
      state.tight = false;
      this.#setFlags(DEFAULT_HEAP_GROWTH_FLAG);
    }
  }
}

let gc: (() => void) | undefined;

/**
 * V8's gc(): exposed for the moment it takes to pick it up from a fresh context, then hidden
 * again, so that no later context or worker gets a global `gc`.
 */
function fullCollection(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    try {
      gc = runInNewContext('gc') as () => void;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  }
  gc();
}
