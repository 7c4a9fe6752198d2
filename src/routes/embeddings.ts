// POST /v1/embeddings (placeholder: registered by buildApp, implemented in its own change).
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from './context.ts';

export function registerEmbeddings(_app: FastifyInstance, _context: RouteContext): void {}
