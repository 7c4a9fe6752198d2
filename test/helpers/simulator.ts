// Shared by the simulator tests: an IAM access token from the simulator under test.
import assert from 'node:assert/strict';
import type { Simulator } from '../../src/simulator/index.ts';

export async function accessToken(simulator: Simulator, apiKey = 'k'): Promise<string> {
  const response = await fetch(`${simulator.url}/identity/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ibm:params:oauth:grant-type:apikey',
      apikey: apiKey,
    }).toString(),
  });
  assert.equal(response.status, 200);
  return ((await response.json()) as { access_token: string }).access_token;
}
