// Reading upstream bodies with a ceiling: a watsonx, catalogue or IAM answer is held in memory
// whole, so a peer that never stops sending must not be able to fill the heap. Past the ceiling the
// connection is closed (the rest is never read) and the caller gets an error or a cut text.
import type { Dispatcher } from 'undici';
import { UpstreamError } from './errors.ts';

type Body = Dispatcher.ResponseData['body'];

const MIB = 1024 * 1024;
/** A non-stream watsonx answer (the largest real one, 1000 embeddings of 4096 floats, is ~80 MB). */
export const MAX_ANSWER_BYTES = 128 * MIB;
/** One page of the model catalogue (200 models, ~0.5 MB in 2026). */
export const MAX_CATALOGUE_PAGE_BYTES = 16 * MIB;
/** The IAM token answer (~2 kB). */
export const MAX_IAM_ANSWER_BYTES = 1 * MIB;
/** What is kept of an error body: enough for watsonx's `errors[]`. */
export const MAX_ERROR_BODY_BYTES = 16 * 1024;

/** The body as text; past `maxBytes` the connection is closed and an UpstreamError ('protocol') thrown. */
export async function readBounded(body: Body, maxBytes: number, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      close(body);
      throw new UpstreamError('protocol', `${what} is larger than ${describeBytes(maxBytes)}`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/**
 * The first `maxBytes` of the body as text, never an error: an error answer is read for its message
 * only. A longer body is cut and its connection closed; a failure mid-body keeps what arrived.
 */
export async function readPrefix(body: Body, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const room = maxBytes - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(chunk.length, room);
      if (size >= maxBytes) {
        close(body);
        break;
      }
    }
  } catch {
    // What arrived is all there is.
  }
  // A multi-byte character cut at the end decodes to U+FFFD: harmless in a message.
  return Buffer.concat(chunks, size).toString('utf8');
}

function close(body: Body): void {
  // Nobody reads the body any more: the error that destroying it raises has no one to reach.
  body.on('error', () => {});
  body.destroy();
}

export function describeBytes(bytes: number): string {
  return bytes >= MIB ? `${bytes / MIB} MiB` : `${bytes / 1024} KiB`;
}
