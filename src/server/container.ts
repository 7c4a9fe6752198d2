// Which watsonx.ai project or space a request runs in: the configured one (WATSONX_PROJECT_ID or
// WATSONX_SPACE_ID), or the one a request names in a header, X-Watsonx-Project-Id /
// X-Watsonx-Space-Id or IBM's own X-IBM-Project-Id / X-IBM-Space-Id, checked against the optional
// allow-lists (WATSONX_ALLOWED_PROJECTS / WATSONX_ALLOWED_SPACES). The same for every API surface.
import type { IncomingHttpHeaders } from 'node:http';
import type { WatsonxContainer } from '../watsonx/types.ts';
import { GatewayError } from './errors.ts';

export interface ContainerSettings {
  /** The configured project or space; undefined when every request must name one. */
  default: WatsonxContainer | undefined;
  /** Projects a request may name; undefined: any. */
  allowedProjects: ReadonlySet<string> | undefined;
  /** Spaces a request may name; undefined: any. */
  allowedSpaces: ReadonlySet<string> | undefined;
}

/** The request headers, lower-case as Node gives them; the first of each kind is the gateway's own name. */
export const PROJECT_HEADERS = ['x-watsonx-project-id', 'x-ibm-project-id'] as const;
export const SPACE_HEADERS = ['x-watsonx-space-id', 'x-ibm-space-id'] as const;

/** watsonx project and space ids are UUIDs (IBM Cloud and Cloud Pak for Data alike). */
export const CONTAINER_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * The request's container: a header's, else the configured one. Throws a GatewayError for a
 * malformed id or conflicting headers (400), an id outside the allow-list (403), and, when
 * `required`, for no container at all (400 naming the headers). Calls to a deployment need none.
 */
export function requestContainer(
  headers: IncomingHttpHeaders,
  settings: ContainerSettings,
  required = true,
): WatsonxContainer | undefined {
  const project = headerId(headers, PROJECT_HEADERS, 'project');
  const space = headerId(headers, SPACE_HEADERS, 'space');
  if (project !== undefined && space !== undefined) {
    throw containerError(
      400,
      'Name either a project (X-Watsonx-Project-Id) or a space (X-Watsonx-Space-Id), not both.',
      'conflicting_container',
    );
  }
  const fallback = settings.default;
  // One allow-list set closes the other kind too: a list of projects must not leave every space open.
  const restricted = settings.allowedProjects !== undefined || settings.allowedSpaces !== undefined;
  if (project !== undefined) {
    // The configured container is always allowed, named or not.
    if (fallback && 'project_id' in fallback && fallback.project_id.toLowerCase() === project.toLowerCase()) {
      return fallback;
    }
    checkAllowed(project, settings.allowedProjects, restricted, 'project', 'WATSONX_ALLOWED_PROJECTS');
    return { project_id: project };
  }
  if (space !== undefined) {
    if (fallback && 'space_id' in fallback && fallback.space_id.toLowerCase() === space.toLowerCase()) {
      return fallback;
    }
    checkAllowed(space, settings.allowedSpaces, restricted, 'space', 'WATSONX_ALLOWED_SPACES');
    return { space_id: space };
  }
  if (fallback === undefined && required) {
    throw containerError(
      400,
      'This gateway has no default watsonx.ai project or space: send the header X-Watsonx-Project-Id ' +
        '(or X-IBM-Project-Id) with a project id, or X-Watsonx-Space-Id (or X-IBM-Space-Id) with a ' +
        'space id. Calls to a deployment (model "deployment/<id>") need neither.',
      'missing_container',
    );
  }
  return fallback;
}

/** The id the request's headers of one kind name (both names may be sent, with the same id), or undefined. */
function headerId(
  headers: IncomingHttpHeaders,
  names: readonly [string, string],
  kind: 'project' | 'space',
): string | undefined {
  let found: { name: string; id: string } | undefined;
  for (const name of names) {
    const value = headers[name];
    if (value === undefined) continue;
    // A repeated header arrives joined with ", " (or as an array): not one id, so refused below.
    const id = (Array.isArray(value) ? value.join(', ') : value).trim();
    if (!CONTAINER_ID.test(id)) {
      throw containerError(
        400,
        `The header ${displayName(name)} must be one watsonx.ai ${kind} id (a UUID such as ` +
          `2f3c8e5a-0d4b-4c1e-9a7f-6b5d4c3b2a10).`,
        'invalid_container_id',
      );
    }
    if (found !== undefined && found.id.toLowerCase() !== id.toLowerCase()) {
      throw containerError(
        400,
        `The headers ${displayName(found.name)} and ${displayName(name)} name different ${kind}s; send one.`,
        'conflicting_container',
      );
    }
    found ??= { name, id };
  }
  return found?.id;
}

/** `allowed` undefined: any id, unless `restricted` (the other kind's list is set): then none. */
function checkAllowed(
  id: string,
  allowed: ReadonlySet<string> | undefined,
  restricted: boolean,
  kind: 'project' | 'space',
  variable: string,
): void {
  if (allowed === undefined ? !restricted : allowed.has(id.toLowerCase())) return;
  throw containerError(
    403,
    `This gateway does not serve the watsonx.ai ${kind} ${id} (it is not in ${variable}` +
      `${allowed === undefined ? ', which is unset while the other allow-list is set' : ''}).`,
    'container_not_allowed',
  );
}

function containerError(status: number, message: string, code: string): GatewayError {
  return new GatewayError(status, message, { code });
}

/** `x-watsonx-project-id` → `X-Watsonx-Project-Id`, as the documentation spells it. */
function displayName(name: string): string {
  return name
    .split('-')
    .map((part) => (part === 'ibm' ? 'IBM' : part.charAt(0).toUpperCase() + part.slice(1)))
    .join('-');
}
