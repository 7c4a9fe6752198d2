// The per-request series (src/server/metrics.ts) in the Prometheus text format, as /metrics serves them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../src/server/metrics.ts';

test('histograms expose cumulative buckets, +Inf, _sum and _count per label set', async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  for (const seconds of [0.005, 0.02, 0.02, 0.3, 400])
    metrics.duration.observe({ route: '/v1/chat/completions' }, seconds);
  metrics.duration.observe({ route: '/v1/embeddings' }, 0.5);
  const text = await metrics.registry.metrics();
  const line = (le: string) =>
    new RegExp(
      `gateway_request_duration_seconds_bucket\\{le="${le.replace('+', '\\+')}",route="/v1/chat/completions"\\} (\\d+)`,
    ).exec(text)?.[1];
  assert.deepEqual(['0.01', '0.05', '0.25', '0.5', '300', '+Inf'].map(line), ['1', '3', '3', '4', '4', '5']);
  assert.match(text, /gateway_request_duration_seconds_sum\{route="\/v1\/chat\/completions"\} 400\.345/);
  assert.match(text, /gateway_request_duration_seconds_count\{route="\/v1\/chat\/completions"\} 5/);
  assert.match(text, /gateway_request_duration_seconds_count\{route="\/v1\/embeddings"\} 1/);
  assert.match(text, /# TYPE gateway_request_duration_seconds histogram/);
});

test('counters add per label set and escape label values', async () => {
  const metrics = new Metrics({ defaultMetrics: false });
  metrics.requests.inc({ route: '/v1/chat/completions', status: '200', model: 'ibm/granite' });
  metrics.requests.inc({ route: '/v1/chat/completions', status: '200', model: 'ibm/granite' });
  metrics.requests.inc({ route: '/v1/chat/completions', status: '499', model: 'a"b' });
  metrics.tokens.inc({ model: 'ibm/granite', kind: 'prompt' }, 12);
  const text = await metrics.registry.metrics();
  assert.match(
    text,
    /gateway_requests_total\{route="\/v1\/chat\/completions",status="200",model="ibm\/granite"\} 2\n/,
  );
  assert.match(
    text,
    /gateway_requests_total\{route="\/v1\/chat\/completions",status="499",model="a\\"b"\} 1\n/,
  );
  assert.match(text, /gateway_tokens_total\{model="ibm\/granite",kind="prompt"\} 12\n/);
  assert.match(text, /# TYPE gateway_requests_total counter/);
});

test('per-user series: a user gets one once a request succeeded, at most maxUserSeries; the rest are "other"', () => {
  const metrics = new Metrics({ defaultMetrics: false, maxUserSeries: 2 });
  assert.equal(metrics.userLabel('aaaa', 401), 'other', 'a refused credential earns no series');
  assert.equal(metrics.userLabel('aaaa', 200), 'aaaa');
  assert.equal(metrics.userLabel('aaaa', 429), 'aaaa', 'then every answer counts under it');
  assert.equal(metrics.userLabel('bbbb', 200), 'bbbb');
  assert.equal(metrics.userLabel('cccc', 200), 'other', 'past the bound');
  assert.equal(metrics.userLabel('bbbb', 500), 'bbbb');
});
