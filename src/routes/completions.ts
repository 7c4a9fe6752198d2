// POST /v1/completions (placeholder: registered by buildApp, implemented in its own change).
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from './context.ts';

export function registerCompletions(_app: FastifyInstance, _context: RouteContext): void {}
