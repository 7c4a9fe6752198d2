// watsonx on AWS and AWS GovCloud: the IBM SaaS API key is exchanged at the platform's account IAM,
// `POST {token url}/api/2.0/apikeys/token` with JSON `{"apikey"}`, answered `{"token": <JWT>}`.
// docs/ibm-auth-and-deployments.md §3.
import type { Dispatcher } from 'undici';
import type { FetchIamToken } from './iam.ts';
import { jwtTokenResponse, requestToken, secretForms } from './token-endpoint.ts';

const TOKEN_PATH = '/api/2.0/apikeys/token';

/** The token server of each AWS-hosted inference host (IBM's SDK mapping; `private.` hosts too). */
const AWS_TOKEN_HOSTS: ReadonlyArray<[RegExp, string]> = [
  [/^(private\.)?(ap-south-1|us-east-1)\.aws\.wxai\.ibm\.com$/, 'https://account-iam.platform.saas.ibm.com'],
  [/^(private\.)?wxai\.ibmforusgov\.com$/, 'https://account-iam.awsg.usge1.private.platform.ibmforusgov.com'],
  [
    /^(private\.)?wxai\.prep\.ibmforusgov\.com$/,
    'https://account-iam.awsg.usge1.private.platform.prep.ibmforusgov.com',
  ],
  [/^(private\.)?(dev|test)\.aws\.wxai\.ibm\.com$/, 'https://account-iam.platform.test.saas.ibm.com'],
];

/** The token server for an inference URL, when IBM's mapping knows it. */
export function awsTokenServerFor(watsonxUrl: string): string | undefined {
  let host: string;
  try {
    host = new URL(watsonxUrl).hostname;
  } catch {
    return undefined;
  }
  return AWS_TOKEN_HOSTS.find(([pattern]) => pattern.test(host))?.[1];
}

/** `/api/2.0/apikeys/token` is appended to a URL without a path, as IBM's SDK does. */
export function awsTokenUrl(tokenServer: string): string {
  const url = new URL(tokenServer.trim());
  if (url.pathname === '/' || url.pathname === '') url.pathname = TOKEN_PATH;
  return url.href;
}

export function createAwsTokenFetcher(options: {
  tokenUrl: string;
  dispatcher: Dispatcher;
  timeoutMs?: number;
  owner?: 'server' | 'client';
  hint?: string;
}): FetchIamToken {
  const endpoint = {
    url: awsTokenUrl(options.tokenUrl),
    dispatcher: options.dispatcher,
    timeoutMs: options.timeoutMs,
    mode: 'aws',
    service: 'IBM SaaS IAM (watsonx on AWS)',
    owner: options.owner,
    hint: options.hint,
  } as const;
  return (apiKey: string) =>
    requestToken(endpoint, {
      contentType: 'application/json',
      body: JSON.stringify({ apikey: apiKey }),
      what: 'the API key',
      secrets: [...secretForms(apiKey), JSON.stringify(apiKey).slice(1, -1)],
      readToken: (answer) =>
        typeof answer.token === 'string' && answer.token !== '' ? jwtTokenResponse(answer.token) : undefined,
    });
}
