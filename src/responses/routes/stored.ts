// GET and DELETE /v1/responses/{response_id} (also without /v1): the responses kept with `store`.
import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { Type } from 'typebox';
import { GatewayError } from '../../server/errors.ts';
import { responsesErrors, ResponsesErrorSchema } from '../errors.ts';
import { DeletedResponseSchema, ResponseSchema } from '../schemas/answers.ts';
import { storeOwner } from '../owner.ts';
import type { ResponseStore } from '../store.ts';

type ById = { Params: { response_id: string } };

export function registerStoredResponses(app: FastifyInstance, store: ResponseStore): void {
  const notFound = (id: string) =>
    new GatewayError(
      404,
      `No response with id '${id}': it expired, was deleted, or was created with store: false.`,
      { code: 'response_not_found', param: 'response_id' },
    );
  const params = Type.Object({
    response_id: Type.String({ description: 'resp_…', examples: ['resp_0123456789abcdef'] }),
  });
  const options = (label: string, summary: string, answer: object): RouteShorthandOptions => ({
    config: { requiresKey: true, label, errors: responsesErrors },
    schema: {
      summary,
      tags: ['OpenAI'],
      security: [{ bearer: [] }],
      params,
      response: { 200: answer, default: ResponsesErrorSchema },
    },
  });
  const hidden = (route: RouteShorthandOptions): RouteShorthandOptions => ({
    ...route,
    schema: { ...route.schema, hide: true },
  });

  const retrieve = async (request: FastifyRequest<ById>) => {
    const stored = await store.get(request.params.response_id, storeOwner(request));
    if (!stored) throw notFound(request.params.response_id);
    return stored.response;
  };
  const getOptions = options('/v1/responses/{response_id}', 'Retrieves a stored response.', ResponseSchema);
  app.get<ById>('/v1/responses/:response_id', getOptions, retrieve);
  app.get<ById>('/responses/:response_id', hidden(getOptions), retrieve);

  const remove = async (request: FastifyRequest<ById>) => {
    const id = request.params.response_id;
    if (!(await store.delete(id, storeOwner(request)))) throw notFound(id);
    return { id, object: 'response' as const, deleted: true as const };
  };
  const deleteOptions = options(
    '/v1/responses/{response_id}',
    'Deletes a stored response.',
    DeletedResponseSchema,
  );
  app.delete<ById>('/v1/responses/:response_id', deleteOptions, remove);
  app.delete<ById>('/responses/:response_id', hidden(deleteOptions), remove);
}
