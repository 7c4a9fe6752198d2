// watsonx.ai deployments (deployed prompt templates, prompt-tuned, custom and deploy-on-demand
// models): the listing's wire types and the body rules of /ml/v1/deployments/{id_or_name}/text/….
// Pure: no I/O. docs/translation.md, "Deployments", says what the gateway does with them.
import type { WatsonxChatMessage, WatsonxChatRequest } from './types.ts';

/** What a call to a deployment needs: where it goes, and whether its body must go without a system message. */
export interface DeploymentCall {
  /** The deployment id or its serving name (the `{id_or_name}` of the path). */
  idOrName: string;
  /** The deployment serves a prompt template: its chat takes no `system` message (the template has one). */
  promptTemplate: boolean;
}

/** One resource of GET /ml/v4/deployments (the fields the gateway reads). */
export interface WatsonxDeploymentResource {
  metadata?: {
    id?: string;
    name?: string;
    description?: string;
    created_at?: string;
    space_id?: string;
    project_id?: string;
  };
  entity?: {
    online?: { parameters?: { serving_name?: string } };
    asset?: { id?: string };
    base_model_id?: string;
    prompt_template?: { id?: string };
    deployed_asset_type?: string;
    status?: { state?: string };
  };
}

/** GET /ml/v4/deployments?version=…&space_id=…|project_id=… */
export interface WatsonxDeploymentsPage {
  total_count?: number;
  limit?: number;
  first?: { href?: string };
  next?: { href?: string };
  resources?: WatsonxDeploymentResource[];
}

/**
 * A deployment id or serving name as the gateway accepts it in `deployment/<…>`: ids are UUIDs,
 * serving names lower-case letters, digits and `_`; a wider set is let through for watsonx to
 * judge, but nothing that could change the request path (`/`, `.`, `%`, `?`).
 */
export const DEPLOYMENT_NAME = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The body of a chat call to a deployment: the same as for a foundation model without `model_id`
 * (the deployment fixes the model; watsonx refuses the field), and, for a prompt-template
 * deployment, with the client's system messages merged into the first user message (watsonx
 * refuses the `system` role there: the template brings its own system prompt).
 */
export function deploymentChatBody(body: WatsonxChatRequest, promptTemplate: boolean): object {
  const { model_id: _model, ...rest } = body;
  if (!promptTemplate || !body.messages.some((message) => message.role === 'system')) return rest;
  return { ...rest, messages: mergeSystemMessages(body.messages) };
}

/** The body of a generation call to a deployment: without `model_id`. */
export function deploymentGenerationBody(body: { model_id?: string }): object {
  const { model_id: _model, ...rest } = body;
  return rest;
}

/**
 * System messages' text, in order, put before the first user message's content (as a text part of
 * its own when that content is a list of parts); without a user message, they become one.
 */
export function mergeSystemMessages(messages: readonly WatsonxChatMessage[]): WatsonxChatMessage[] {
  const system = messages
    .filter((message) => message.role === 'system')
    .map((message) => systemText(message))
    .filter((text) => text !== '')
    .join('\n\n');
  const rest = messages.filter((message) => message.role !== 'system');
  if (system === '') return rest;
  const first = rest.findIndex((message) => message.role === 'user');
  if (first === -1) return [{ role: 'user', content: system }, ...rest];
  const user = rest[first]!;
  const content =
    typeof user.content === 'string'
      ? `${system}\n\n${user.content}`
      : [{ type: 'text' as const, text: system }, ...(user.content ?? [])];
  return rest.map((message, index) =>
    index === first ? ({ ...user, content } as WatsonxChatMessage) : message,
  );
}

function systemText(message: WatsonxChatMessage): string {
  return typeof message.content === 'string' ? message.content : '';
}
