// Simulated deployments (docs/watsonx-api.md §8, ibm-auth-and-deployments.md §8): the listing
// (GET /ml/v4/deployments) and the body rules of /ml/v1/deployments/{id_or_name}/text/…, which
// refuse model_id, project_id and space_id as watsonx does (json_validation_error, the message
// watsonx gave LiteLLM's users, BerriAI/litellm#11837), and a prompt template's system message.
// A body that passes is handed on to the foundation-model routes with the deployment's base model
// and container filled in, so answers, streams and directives are the usual ones. Pure.
import { invalid, isObject } from './body-checks.ts';
import { MORE_INFO_BASE, type SimulatedError } from './errors.ts';

export const DEPLOYMENTS_LIST_PATH = '/ml/v4/deployments';
export const MORE_INFO_DEPLOYMENTS_CHAT = `${MORE_INFO_BASE}#deployments-text-chat`;
export const MORE_INFO_DEPLOYMENTS_GENERATION = `${MORE_INFO_BASE}#deployments-text-generation`;

/** The operations served at /ml/v1/deployments/{id_or_name}/text/<operation>. */
export type DeploymentOperation = 'chat' | 'chat_stream' | 'generation' | 'generation_stream';
const OPERATIONS = new Set<string>(['chat', 'chat_stream', 'generation', 'generation_stream']);

export interface SimulatedDeployment {
  id: string;
  name: string;
  servingName?: string;
  baseModelId: string;
  assetType: 'foundation_model' | 'custom_foundation_model' | 'prompt_tune';
  /** A prompt template: chat refuses system messages; generation ignores `input` for the template's text. */
  promptTemplate?: { id: string; text: string };
  state: 'ready' | 'initializing' | 'failed';
  createdAt: string;
}

/** Two ready deployments (one with a serving name, one prompt template) and one still starting. */
export const SIMULATED_DEPLOYMENTS: readonly SimulatedDeployment[] = [
  {
    id: '9b1f7c2e-5d4a-4e8b-a6c3-2f0e1d9c8b7a',
    name: 'Granite 4 on demand',
    servingName: 'granite_chat',
    baseModelId: 'ibm/granite-4-h-small',
    assetType: 'custom_foundation_model',
    state: 'ready',
    createdAt: '2026-05-04T09:30:00.000Z',
  },
  {
    id: '4c8e2a6f-1b3d-4f5a-9e7c-0d2b4a6c8e1f',
    name: 'Support answer template',
    baseModelId: 'ibm/granite-3-3-8b-instruct',
    assetType: 'foundation_model',
    promptTemplate: {
      id: '7a9c1e3b-5d7f-4a2c-8e0b-3d5f7a9c1e3b',
      text: 'Answer the customer politely about {topic}.',
    },
    state: 'ready',
    createdAt: '2026-06-12T14:00:00.000Z',
  },
  {
    id: 'e2d4f6a8-0b1c-4d3e-8f5a-7b9c1d3e5f7a',
    name: 'Tuned Granite (starting)',
    servingName: 'tuned_granite',
    baseModelId: 'ibm/granite-3-3-8b-instruct',
    assetType: 'prompt_tune',
    state: 'initializing',
    createdAt: '2026-07-01T08:00:00.000Z',
  },
];

/** The deployment an inference path names, by id or serving name; undefined for any other path. */
export function parseDeploymentPath(
  path: string,
): { idOrName: string; operation: DeploymentOperation } | undefined {
  const match = /^\/ml\/v1\/deployments\/([^/]+)\/text\/([a-z_]+)$/.exec(path);
  if (!match || !OPERATIONS.has(match[2]!)) return undefined;
  let idOrName: string;
  try {
    idOrName = decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
  return { idOrName, operation: match[2] as DeploymentOperation };
}

export function findDeployment(idOrName: string): SimulatedDeployment | SimulatedError {
  const found = SIMULATED_DEPLOYMENTS.find(
    (deployment) => deployment.id === idOrName || deployment.servingName === idOrName,
  );
  if (!found) {
    return {
      status: 404,
      code: 'deployment_not_found',
      message: `Deployment with id or serving name '${idOrName}' does not exist`,
    };
  }
  if (found.state !== 'ready') {
    return {
      status: 400,
      code: 'deployment_not_ready',
      message: `Deployment '${found.id}' is in state '${found.state}', not 'ready'`,
    };
  }
  return found;
}

/** Placeholder container for the hand-over to the foundation-model checks (they require one). */
const DEPLOYMENT_SPACE_ID = '3e5f7a9c-1b3d-4e5f-8a7b-9c1d3e5f7a9b';

/**
 * The deployment body rules; the body to hand to the foundation-model route (base model and a
 * container added, a prompt template's text as `input`), or the error watsonx answers.
 */
export function deploymentBody(
  deployment: SimulatedDeployment,
  operation: DeploymentOperation,
  body: unknown,
): Record<string, unknown> | SimulatedError {
  if (!isObject(body)) {
    return {
      status: 400,
      code: 'json_type_error',
      message: 'Json document type error: body must be an object',
    };
  }
  if ('model_id' in body || 'model' in body) {
    return invalid("'model_id' or 'model' cannot be specified in the request body");
  }
  if ('project_id' in body || 'space_id' in body) {
    return invalid("'space_id' or 'project_id' cannot be specified in the request body");
  }
  const handed: Record<string, unknown> = {
    ...body,
    model_id: deployment.baseModelId,
    space_id: DEPLOYMENT_SPACE_ID,
  };
  const template = deployment.promptTemplate;
  if (operation === 'chat' || operation === 'chat_stream') {
    if (template && Array.isArray(body.messages)) {
      const index = body.messages.findIndex((message) => isObject(message) && message.role === 'system');
      if (index !== -1) {
        return invalid(
          `messages[${index}].role: 'system' cannot be specified for a deployment with a prompt template`,
        );
      }
    }
    return handed;
  }
  if (template) {
    // The template's text replaces `input` (ignored, as watsonx does), with prompt_variables filled in.
    const parameters = isObject(body.parameters) ? body.parameters : {};
    const variables = isObject(parameters.prompt_variables) ? parameters.prompt_variables : {};
    handed.input = template.text.replace(/\{(\w+)\}/g, (whole, name: string) =>
      typeof variables[name] === 'string' ? (variables[name] as string) : whole,
    );
    const { prompt_variables: _variables, ...rest } = parameters;
    handed.parameters = rest;
  }
  return handed;
}

/** GET /ml/v4/deployments?space_id=…|project_id=…: every deployment, in that container. */
export function deploymentsPage(query: URLSearchParams, baseUrl: string): unknown {
  const spaceId = query.get('space_id');
  const projectId = query.get('project_id');
  if ((spaceId === null) === (projectId === null)) {
    return invalid("exactly one of the query parameters 'space_id' or 'project_id' must be given");
  }
  const container = spaceId !== null ? { space_id: spaceId } : { project_id: projectId! };
  const resources = SIMULATED_DEPLOYMENTS.map((deployment) => ({
    metadata: {
      id: deployment.id,
      name: deployment.name,
      created_at: deployment.createdAt,
      ...container,
    },
    entity: {
      online: { parameters: deployment.servingName ? { serving_name: deployment.servingName } : {} },
      asset: { id: deployment.promptTemplate?.id ?? deployment.id },
      base_model_id: deployment.baseModelId,
      deployed_asset_type: deployment.assetType,
      ...(deployment.promptTemplate && { prompt_template: { id: deployment.promptTemplate.id } }),
      status: { state: deployment.state },
    },
  }));
  return {
    total_count: resources.length,
    limit: 100,
    first: { href: `${baseUrl}${DEPLOYMENTS_LIST_PATH}?${query}` },
    resources,
  };
}
