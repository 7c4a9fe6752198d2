// node:http as its CommonJS module. An ESM `import … from 'node:http'` builds the module's ESM
// facade, which evaluates every lazy export, and one of them loads Node's bundled undici (~13 MB of
// RSS, never used here; bench/README.md). createRequire works on every Node.js ≥ 22
// (process.getBuiltinModule only from 22.3). Type-only imports of node:http are erased and fine.
import { createRequire } from 'node:module';

export const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
