// The deployments of a project or space (GET /ml/v4/deployments, all pages), cached per container
// with the catalogue's TTL, refreshed by one caller at a time and served stale while it refreshes.
// They back /v1/models (ready deployments, as `deployment/<serving name or id>`) and tell a chat
// call whether its deployment is a prompt template (which takes no system message).
import type { IncomingHttpHeaders } from 'node:http';
import { type ContainerSettings, requestContainer } from '../server/container.ts';
import type { GatewayRequestState } from '../server/lifecycle.ts';
import type { Authenticator } from '../watsonx/auth.ts';
import type { WatsonxClient } from '../watsonx/client.ts';
import type { WatsonxDeploymentResource } from '../watsonx/deployments.ts';
import type { WatsonxContainer } from '../watsonx/types.ts';

/** The prefix of a model name that names a deployment: `deployment/<id or serving name>`. */
export const DEPLOYMENT_PREFIX = 'deployment/';

export interface Deployment {
  id: string;
  servingName: string | undefined;
  name: string | undefined;
  /** The foundation model behind it (prompt templates, prompt tunes), when watsonx says. */
  baseModelId: string | undefined;
  /** It serves a prompt template: chat without a system message. */
  promptTemplate: boolean;
  /** `deployed_asset_type`: foundation_model, prompt_tune, custom_foundation_model, … */
  assetType: string | undefined;
  /** Unix seconds from metadata.created_at (0 when unknown). */
  created: number;
}

/**
 * Whose view of the deployments: the credential the listing is made with, and the cache scope it
 * is kept under (`server` for the gateway's own credential; each user's own when clients bring
 * their IBM credentials, so that one user never sees a list made with another's).
 */
export interface DeploymentAccess {
  auth: Authenticator;
  scope: string;
}

export interface DeploymentDirectoryOptions {
  client: Pick<WatsonxClient, 'listDeployments'>;
  /** How long a fetched list counts as fresh (ms): MODELS_CACHE_TTL. */
  ttlMs: number;
  /** On a miss, refresh at most this often (ms). */
  missRefreshMs?: number;
  /** Lists kept, one per scope and container (the oldest dropped first). */
  maxContainers?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

interface Entry {
  deployments: Deployment[] | undefined;
  fetchedAt: number;
  lastMissRefresh: number;
  inFlight: Promise<Deployment[]> | undefined;
  failedUntil: number;
  lastFailure: unknown;
}

const FAILURE_PAUSE_MS = 30_000;
const FETCH_TIMEOUT_MS = 10_000;
const MAX_PAGES = 100;

export class DeploymentDirectory {
  private readonly options: DeploymentDirectoryOptions;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();

  constructor(options: DeploymentDirectoryOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /** The ready deployments of the container; throws when watsonx cannot list them. */
  async list(access: DeploymentAccess, container: WatsonxContainer): Promise<Deployment[]> {
    const entry = this.entry(access.scope, container);
    if (entry.deployments === undefined) {
      if (this.now() < entry.failedUntil) throw entry.lastFailure;
      return this.refresh(entry, access.auth, container);
    }
    if (this.now() - entry.fetchedAt >= this.options.ttlMs) {
      this.refresh(entry, access.auth, container).catch((error: unknown) => this.options.onError?.(error));
    }
    return entry.deployments;
  }

  /** The same, or none when watsonx cannot list them (reported to onError): /v1/models must not fail for it. */
  async listOrNone(access: DeploymentAccess, container: WatsonxContainer): Promise<Deployment[]> {
    try {
      return await this.list(access, container);
    } catch (error) {
      this.options.onError?.(error);
      return [];
    }
  }

  /**
   * The deployment with this id or serving name, refreshing the list (at most once per
   * missRefreshMs) when it is not there; undefined when it is unknown or the list cannot be read.
   */
  async find(
    access: DeploymentAccess,
    container: WatsonxContainer,
    idOrName: string,
  ): Promise<Deployment | undefined> {
    try {
      let found = match(await this.list(access, container), idOrName);
      const entry = this.entry(access.scope, container);
      if (!found && this.now() - entry.lastMissRefresh >= (this.options.missRefreshMs ?? 60_000)) {
        entry.lastMissRefresh = this.now();
        found = match(await this.refresh(entry, access.auth, container), idOrName);
      }
      return found;
    } catch (error) {
      this.options.onError?.(error);
      return undefined;
    }
  }

  private entry(scope: string, container: WatsonxContainer): Entry {
    const where = 'space_id' in container ? `space:${container.space_id}` : `project:${container.project_id}`;
    const key = `${scope} ${where}`;
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = {
        deployments: undefined,
        fetchedAt: 0,
        lastMissRefresh: -Infinity,
        inFlight: undefined,
        failedUntil: 0,
        lastFailure: undefined,
      };
      this.entries.set(key, entry);
      // Bounded: containers come from request headers (and scopes from users); the oldest goes first.
      if (this.entries.size > (this.options.maxContainers ?? 256)) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
    }
    return entry;
  }

  private refresh(entry: Entry, auth: Authenticator, container: WatsonxContainer): Promise<Deployment[]> {
    entry.inFlight ??= this.fetchAll(auth, container)
      .then((deployments) => {
        entry.deployments = deployments;
        entry.fetchedAt = this.now();
        return deployments;
      })
      .catch((error: unknown) => {
        entry.failedUntil = this.now() + FAILURE_PAUSE_MS;
        entry.lastFailure = error;
        throw error;
      })
      .finally(() => {
        entry.inFlight = undefined;
      });
    return entry.inFlight;
  }

  private async fetchAll(auth: Authenticator, container: WatsonxContainer): Promise<Deployment[]> {
    const deployments: Deployment[] = [];
    let start: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const result = await this.options.client.listDeployments({
        auth,
        container,
        start,
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      for (const resource of result.resources ?? []) {
        const deployment = toDeployment(resource);
        if (deployment) deployments.push(deployment);
      }
      start = nextStart(result.next?.href);
      if (!start) break;
    }
    return deployments;
  }
}

function match(deployments: readonly Deployment[], idOrName: string): Deployment | undefined {
  return deployments.find((deployment) => deployment.id === idOrName || deployment.servingName === idOrName);
}

/** A ready deployment as the gateway uses it; undefined for one that is not ready or has no id. */
export function toDeployment(resource: WatsonxDeploymentResource): Deployment | undefined {
  const id = resource?.metadata?.id;
  if (typeof id !== 'string' || id === '') return undefined;
  if (resource.entity?.status?.state !== 'ready') return undefined;
  const servingName = resource.entity.online?.parameters?.serving_name;
  const created = Date.parse(resource.metadata?.created_at ?? '');
  return {
    id,
    servingName: typeof servingName === 'string' && servingName !== '' ? servingName : undefined,
    name: resource.metadata?.name,
    baseModelId: resource.entity.base_model_id,
    promptTemplate: resource.entity.prompt_template !== undefined && resource.entity.prompt_template !== null,
    assetType: resource.entity.deployed_asset_type,
    created: Number.isFinite(created) ? Math.floor(created / 1000) : 0,
  };
}

/** The client-facing model name of a deployment: its serving name when it has one, else its id. */
export function deploymentModelName(deployment: Deployment): string {
  return `${DEPLOYMENT_PREFIX}${deployment.servingName ?? deployment.id}`;
}

function nextStart(href: string | undefined): string | undefined {
  if (!href) return undefined;
  try {
    return new URL(href, 'http://placeholder').searchParams.get('start') ?? undefined;
  } catch {
    return undefined;
  }
}

/** The deployment lists a request sees: its own IBM credential when it brings one, else the gateway's. */
export function requestAccess(
  settings: { upstream: { auth: Authenticator } },
  request: { gateway: GatewayRequestState },
): DeploymentAccess {
  const own = request.gateway.upstreamAuth;
  // With per-request credentials rateKey is `user:<the credential's SHA-256>` (gateway-keys.ts).
  return own
    ? { auth: own, scope: request.gateway.rateKey ?? 'client' }
    : { auth: settings.upstream.auth, scope: 'server' };
}

/**
 * The ready deployments of the request's project or space (its header, else the configured one),
 * as the request's credential sees them; none without a container, or when watsonx cannot list
 * them. A malformed or refused container header throws its GatewayError.
 */
export function requestDeployments(
  settings: {
    deployments: DeploymentDirectory;
    containers: ContainerSettings;
    upstream: { auth: Authenticator };
  },
  request: { headers: IncomingHttpHeaders; gateway: GatewayRequestState },
): Promise<Deployment[]> {
  const container = requestContainer(request.headers, settings.containers, false);
  if (!container) return Promise.resolve([]);
  return settings.deployments.listOrNone(requestAccess(settings, request), container);
}

/** The deployment a name (`<id or serving name>`) refers to among `deployments`. */
export function findDeployment(deployments: readonly Deployment[], idOrName: string): Deployment | undefined {
  return match(deployments, idOrName);
}
