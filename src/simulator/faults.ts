// The queue behind Simulator.enqueueFault. Faults are taken by the next request they apply to that
// passed every check (auth, version, body): a rejected request never uses one up.
import type { SimulatedError } from './errors.ts';
import type { SimulatorFault } from './types.ts';

export interface InferenceFaults {
  httpError?: SimulatedError;
  stallMs?: number;
  streamErrorAfter?: number;
  truncateAfter?: number;
}

type Queued = { fault: SimulatorFault; remaining: number };

export class FaultQueue {
  #queue: Queued[] = [];

  enqueue(fault: SimulatorFault): void {
    const times = fault.kind === 'http-error' || fault.kind === 'iam-error' ? (fault.times ?? 1) : 1;
    if (times > 0) this.#queue.push({ fault, remaining: times });
  }

  #take<K extends SimulatorFault['kind']>(kind: K): Extract<SimulatorFault, { kind: K }> | undefined {
    const entry = this.#queue.find((queued) => queued.fault.kind === kind);
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.#queue.splice(this.#queue.indexOf(entry), 1);
    return entry.fault as Extract<SimulatorFault, { kind: K }>;
  }

  takeIamError(): number | undefined {
    return this.#take('iam-error')?.status;
  }

  /** An http-error leaves stream faults queued for a request that will actually stream. */
  takeInference(streaming: boolean): InferenceFaults {
    const result: InferenceFaults = {};
    const httpError = this.#take('http-error');
    if (httpError) {
      const { status, code, message, headers } = httpError;
      result.httpError = { status, code, message, ...(headers ? { headers } : {}) };
    }
    const stall = this.#take('stall');
    if (stall) result.stallMs = stall.ms;
    if (streaming && !httpError) {
      result.streamErrorAfter = this.#take('stream-error')?.afterEvents;
      result.truncateAfter = this.#take('stream-truncate')?.afterEvents;
    }
    return result;
  }
}
