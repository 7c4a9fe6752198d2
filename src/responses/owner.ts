// Whose stored responses a request may see: the gateway key it presented (a digest of it, so the
// store never holds keys), or '' on a gateway without keys, where every client shares one store.
import { createHash } from 'node:crypto';
import type { GatewayRequestState } from '../server/lifecycle.ts';

export function storeOwner(request: { gateway: GatewayRequestState }): string {
  const key = request.gateway.rateKey;
  return key === undefined || key === '' ? '' : createHash('sha256').update(key).digest('base64url');
}
