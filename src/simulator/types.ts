// The simulator's public API types (re-exported by index.ts; the gateway imports them).

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  /** IAM token lifetime, default 3600. */
  tokenTtlSeconds?: number;
  /** If set, only these IAM (and AWS) keys work; default: any non-empty key that does not start with "invalid". */
  acceptedApiKeys?: string[];
  /**
   * Cloud Pak for Data users: /icp4d-api/v1/authorize takes username + password or username +
   * api_key, and `ZenApiKey base64(username:api_key)` is accepted on /ml/ routes. Default: any
   * username with any secret that does not start with "invalid".
   */
  cp4dUsers?: Array<{ username: string; password?: string; apiKey?: string }>;
  /** The field of /authorize's answer holding the token: `token` (4.x, default) or `accessToken` (5.2 sample). */
  cp4dTokenField?: 'token' | 'accessToken';
  /** Bearer tokens accepted on /ml/ routes as they are, never expiring (for the static bearer mode). */
  staticBearerTokens?: string[];
  /** Delay between stream events, default 0. */
  chunkDelayMs?: number;
  /** Millisecond clock for JWT iat/exp, token expiry and `created`; default Date.now. */
  now?: () => number;
  /** Caps the page size of foundation_model_specs (whatever `limit` asks), default 100. */
  modelPageSize?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON (or form fields for IAM); the raw text when it does not parse; undefined when empty. */
  body: unknown;
  /** true when the client went away before the response finished */
  aborted: boolean;
  finished: boolean;
}

export type SimulatorFault =
  /** The next `times` (default 1) inference requests answer this watsonx error body. */
  | {
      kind: 'http-error';
      status: number;
      code: string;
      message: string;
      headers?: Record<string, string>;
      times?: number;
    }
  /** chat_stream: after N events send `event: error` + data with a §9 error body, then end. */
  | { kind: 'stream-error'; afterEvents: number }
  /** chat_stream: end the response after N events without finishing (no finish_reason). */
  | { kind: 'stream-truncate'; afterEvents: number }
  /** Wait ms before the first stream event (headers sent immediately) or before answering non-stream. */
  | { kind: 'stall'; ms: number }
  /** IAM (and the CP4D and AWS token endpoints) answer this status (400 → BXNIM0415E body, others plain text). */
  | { kind: 'iam-error'; status: number; times?: number };

export interface Simulator {
  /** Base URL, e.g. http://127.0.0.1:PORT; serves both IAM (/identity/token) and watsonx (/ml/v1/...). */
  url: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  enqueueFault(fault: SimulatorFault): void;
  /** Every token issued so far becomes expired (→ 401 authentication_token_expired). */
  expireTokens(): void;
  /** How many IAM tokens were issued. */
  issuedTokens(): number;
  /** Closes the server and destroys open connections. */
  close(): Promise<void>;
}
