// Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time,
// and self time grouped by where the code comes from (the gateway, each package, Node, GC).
//
//   node bench/profile-summary.ts /tmp/bench-profile-…/CPU.….cpuprofile [--top 30] [--per N --unit chunk]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** Where a frame's code lives: the gateway (dist/), a package, Node itself, or a V8 pseudo-frame. */
function origin(frame: ProfileNode['callFrame']): string {
  const url = frame.url;
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.includes('/dist/')) return 'gateway (dist/)';
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

/**
 * The summary; with `per`, every line also shows its self time divided by that count (the CPU cost
 * per request or per relayed chunk, in µs).
 */
export function summariseProfile(file: string, top = 30, per?: { count: number; unit: string }): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfByNode = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index++) {
    const id = profile.samples[index]!;
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  }
  const byFunction = new Map<string, number>();
  const byOrigin = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const [id, microseconds] of selfByNode) {
    const frame = nodes.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idle += microseconds;
      continue;
    }
    busy += microseconds;
    const where = frame.url ? ` ${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + microseconds);
    const group = origin(frame);
    byOrigin.set(group, (byOrigin.get(group) ?? 0) + microseconds);
  }
  const percent = (value: number) => `${((100 * value) / Math.max(1, busy)).toFixed(1).padStart(5)}%`;
  const perUnit = (value: number) =>
    per && per.count > 0 ? `  ${(value / per.count).toFixed(2).padStart(7)} µs/${per.unit}` : '';
  const milliseconds = (value: number) => `${(value / 1000).toFixed(0).padStart(7)} ms${perUnit(value)}`;
  const lines = [
    `busy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s (percentages are of busy time)`,
    ...(per && per.count > 0
      ? [
          `per ${per.unit}: ${(busy / per.count).toFixed(2)} µs of busy time over ${per.count.toLocaleString('en-US')} ${per.unit}s`,
        ]
      : []),
    '',
    'self time by origin:',
  ];
  for (const [group, value] of [...byOrigin].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    lines.push(`  ${percent(value)} ${milliseconds(value)}  ${group}`);
  }
  lines.push('', `top ${top} functions by self time:`);
  for (const [key, value] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${percent(value)} ${milliseconds(value)}  ${key}`);
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '30' },
      per: { type: 'string' },
      unit: { type: 'string', default: 'chunk' },
    },
  });
  if (positionals.length !== 1) {
    process.stderr.write(
      'usage: node bench/profile-summary.ts FILE.cpuprofile [--top N] [--per COUNT --unit chunk]\n',
    );
    process.exit(2);
  }
  const per = values.per ? { count: Number(values.per), unit: values.unit } : undefined;
  console.log(summariseProfile(positionals[0]!, Number(values.top), per));
}
