// The OpenAI Responses API surface (POST /v1/responses, GET/DELETE /v1/responses/{id}), bridged
// onto watsonx chat. One registration line in src/server/app.ts; everything Responses-specific
// (schemas, translators, error envelope, `event:` framing, the response store) lives here.
import type { FastifyInstance } from 'fastify';
import type { SharedRedis } from '../server/redis.ts';
import { surfaceRoute, type SurfaceContext } from '../server/surface.ts';
import { RedisResponseStore } from './redis-store.ts';
import { createResponseRoute } from './routes/create.ts';
import { registerStoredResponses } from './routes/stored.ts';
import { MemoryResponseStore, type ResponseStore } from './store.ts';

export { responsesErrors } from './errors.ts';
export type { ResponseStore } from './store.ts';

/** The store's bounds: 1000 responses, about 100 MB of JSON, one hour each (in Redis: for all replicas). */
export const STORE_LIMITS = { maxEntries: 1000, maxBytes: 100 * 1024 * 1024, ttlMs: 60 * 60 * 1000 };

/** In Redis when the gateway has one (REDIS_URL), shared by every replica; else in this process. */
export function responseStore(redis: SharedRedis | undefined): ResponseStore {
  return redis ? new RedisResponseStore(redis, STORE_LIMITS) : new MemoryResponseStore(STORE_LIMITS);
}

export function registerResponses(
  app: FastifyInstance,
  context: SurfaceContext,
  store: ResponseStore = new MemoryResponseStore(STORE_LIMITS),
): void {
  surfaceRoute(app, createResponseRoute(context, store));
  registerStoredResponses(app, store);
}
