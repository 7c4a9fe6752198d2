import { parseJsonOrUndefined } from './json.ts';
import type { WatsonxErrorEntry } from './types.ts';

/** watsonx statuses the client retries (UPSTREAM_MAX_RETRIES): rate limits and transient unavailability. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 503, 504, 520]);

/** An HTTP error answer from watsonx.ai (non-2xx), or an `event: error` inside a stream. */
/** Longest watsonx error message passed on to clients, in characters. */
const MAX_MESSAGE_CHARS = 1000;

export class WatsonxApiError extends Error {
  readonly status: number;
  /** First `errors[].code`, when the body had one. */
  readonly code: string | undefined;
  readonly errors: WatsonxErrorEntry[];
  readonly trace: string | undefined;
  /** The raw body as received (may be empty or not JSON), cut to 4 kB. */
  readonly body: string;
  /** `Retry-After` header value, if any. */
  readonly retryAfter: string | undefined;
  /** True when the error arrived inside an SSE stream after HTTP 200. */
  readonly midStream: boolean;
  /** Whose credential the call carried: `client` (per-user keys, pass-through) makes a 401/403 the client's. */
  readonly credentialOwner: 'server' | 'client';

  constructor(options: {
    status: number;
    message: string;
    code?: string;
    errors?: WatsonxErrorEntry[];
    trace?: string;
    body?: string;
    retryAfter?: string;
    midStream?: boolean;
    credentialOwner?: 'server' | 'client';
  }) {
    super(options.message);
    this.name = 'WatsonxApiError';
    this.status = options.status;
    this.code = options.code;
    this.errors = options.errors ?? [];
    this.trace = options.trace;
    this.body = options.body ?? '';
    this.retryAfter = options.retryAfter;
    this.midStream = options.midStream ?? false;
    this.credentialOwner = options.credentialOwner ?? 'server';
  }

  /** Builds the error from a watsonx error body; tolerant of empty, HTML or otherwise non-JSON bodies. */
  static fromBody(
    status: number,
    rawBodyText: string,
    extra: {
      retryAfter?: string;
      midStream?: boolean;
      secrets?: readonly string[];
      credentialOwner?: 'server' | 'client';
    } = {},
  ): WatsonxApiError {
    // watsonx's message reaches the client: an upstream (or a proxy before it) that echoes the
    // request's Authorization header must not hand the gateway's IAM token to whoever sent it.
    const bodyText = redactCredentials(rawBodyText, extra.secrets);
    let errors: WatsonxErrorEntry[] = [];
    let trace: string | undefined;
    // Not JSON: the raw text is the message below.
    const parsed = parseJsonOrUndefined(bodyText);
    if (parsed && typeof parsed === 'object') {
      const record = parsed as Record<string, unknown>;
      if (Array.isArray(record.errors)) {
        errors = record.errors.filter(
          (entry): entry is WatsonxErrorEntry => !!entry && typeof entry === 'object',
        );
      } else if (typeof record.message === 'string' || typeof record.error === 'string') {
        errors = [{ message: String(record.message ?? record.error), code: stringOrUndefined(record.code) }];
      }
      trace = stringOrUndefined(record.trace);
    }
    const first = errors[0];
    const joined = errors
      .map((entry) => entry.message)
      .filter((text): text is string => typeof text === 'string' && text.length > 0)
      .join('; ');
    const message =
      // What the client reads is a message, not a payload: a long one (an upstream may send
      // kilobytes) is cut; the whole body, up to 4 KiB, stays on the error for the log.
      (joined.length > MAX_MESSAGE_CHARS ? `${joined.slice(0, MAX_MESSAGE_CHARS)}…` : joined) ||
      // An HTML error page from an edge proxy says nothing useful to an API client.
      (bodyText.trimStart().startsWith('<') ? '' : bodyText.trim().slice(0, 200)) ||
      `HTTP ${status}`;
    return new WatsonxApiError({
      status,
      message,
      code: typeof first?.code === 'string' ? first.code : undefined,
      errors,
      trace,
      body: bodyText.slice(0, 4096),
      retryAfter: extra.retryAfter,
      midStream: extra.midStream,
      credentialOwner: extra.credentialOwner,
    });
  }
}

/** The IBM auth modes that exchange a credential for a token. */
export type TokenMode = 'iam' | 'cp4d' | 'aws';

/**
 * A token server (IBM Cloud IAM, Cloud Pak for Data's /authorize, IBM's SaaS IAM for watsonx on
 * AWS) could not give the gateway a token. The class keeps its first name: IAM was the only one.
 */
export class IamError extends Error {
  /** `rejected`: the server answered but refused the credential; `unreachable`: no usable answer (network, 5xx, bad body). */
  readonly kind: 'rejected' | 'unreachable';
  readonly status: number | undefined;
  /** IAM's `errorCode`, e.g. BXNIM0415E (or the token server's own code). */
  readonly iamCode: string | undefined;
  /**
   * What clients and the open endpoints (/ready, /health) may see: the cause without the server's
   * host, port or socket error code, which stay in `message` for the log.
   */
  readonly publicMessage: string;
  /** Which exchange failed (default `iam`). */
  readonly mode: TokenMode;
  /** `client`: the credential was the client's own (UPSTREAM_CREDENTIALS=client): a refusal is its 401. */
  readonly owner: 'server' | 'client';
  /** For the operator: what to check (the settings of the mode), never their values. */
  readonly hint: string | undefined;

  constructor(
    kind: 'rejected' | 'unreachable',
    message: string,
    options: {
      status?: number;
      iamCode?: string;
      cause?: unknown;
      publicMessage?: string;
      mode?: TokenMode;
      owner?: 'server' | 'client';
      hint?: string;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'IamError';
    this.kind = kind;
    this.status = options.status;
    this.iamCode = options.iamCode;
    this.publicMessage = options.publicMessage ?? message;
    this.mode = options.mode ?? 'iam';
    this.owner = options.owner ?? 'server';
    this.hint = options.hint;
  }
}

/** watsonx could not be reached, or did not answer in time. */
export class UpstreamError extends Error {
  readonly kind: 'timeout' | 'connection' | 'protocol';
  constructor(
    kind: 'timeout' | 'connection' | 'protocol',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'UpstreamError';
    this.kind = kind;
  }
}

/**
 * A network failure in words, with Node's or OpenSSL's code when the message lacks it: "self-signed
 * certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN)", "connect ECONNREFUSED 127.0.0.1:9".
 * A connection tried on several addresses fails with all of their errors: the first one speaks.
 */
export function describeNetworkError(error: unknown): string {
  if (error instanceof AggregateError && !error.message && error.errors.length > 0) {
    return describeNetworkError(error.errors[0]);
  }
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message || error.name;
  // undici's own codes (UND_ERR_*) add nothing to its messages.
  return typeof code === 'string' && !code.startsWith('UND_ERR_') && !message.includes(code)
    ? `${message} (${code})`
    : message;
}

const REDACTED = '[redacted]';
/** An HTTP credential after its scheme: `Bearer <token>`, `Basic <base64>`, `ZenApiKey <key>`. */
const SCHEME_CREDENTIAL = /\b(Bearer|Basic|ZenApiKey)(\s+|%20|\+)[A-Za-z0-9\-._~+/]+=*/gi;
/** A JWT, the form of IBM Cloud IAM access tokens, wherever it stands. */
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/** `text` without anything that looks like a credential, nor any of `secrets` as given. */
export function redactCredentials(text: string, secrets: readonly string[] = []): string {
  let result = text.replace(SCHEME_CREDENTIAL, `$1 ${REDACTED}`);
  for (const secret of secrets) {
    if (secret.length >= 8) result = result.split(secret).join(REDACTED);
  }
  return result.replace(JWT, REDACTED);
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
