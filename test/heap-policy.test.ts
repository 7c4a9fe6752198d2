// StreamHeapPolicy (src/heap-policy.ts): V8's heap growth tightened while many streams are open,
// with one full collection at the switch, and given back below half the threshold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_HEAP_GROWTH_FLAG,
  newHeapState,
  StreamHeapPolicy,
  TIGHT_HEAP_GROWTH_FLAG,
} from '../src/process/heap-policy.ts';

function recordingPolicy(tightenAt: number, clock = { now: 0 }) {
  const events: string[] = [];
  const policy = new StreamHeapPolicy({
    tightenAt,
    setFlags: (flags) => events.push(flags),
    collect: () => events.push('gc'),
    state: newHeapState(),
    now: () => clock.now,
  });
  return { policy, events, clock };
}

test('tightened at the threshold (one collection), relaxed at half of it, and again', () => {
  const { policy, events, clock } = recordingPolicy(4);
  for (let index = 0; index < 3; index++) policy.streamOpened();
  assert.deepEqual(events, []);
  policy.streamOpened();
  assert.deepEqual(events, [TIGHT_HEAP_GROWTH_FLAG, 'gc']);
  policy.streamOpened();
  policy.streamClosed();
  policy.streamClosed();
  assert.equal(policy.tight, true, '3 open: still above half the threshold');
  policy.streamClosed();
  assert.equal(policy.tight, false, '2 open: relaxed');
  assert.deepEqual(events.slice(2), [DEFAULT_HEAP_GROWTH_FLAG]);
  clock.now = 5_000;
  policy.streamOpened();
  policy.streamOpened();
  assert.equal(policy.tight, true);
  assert.equal(events.filter((event) => event === 'gc').length, 1, 'no forced collection within 10 s');
  policy.streamClosed();
  policy.streamClosed();
  clock.now = 20_000;
  policy.streamOpened();
  policy.streamOpened();
  assert.equal(events.filter((event) => event === 'gc').length, 2, 'one again after 10 s');
});

test('TIGHT_HEAP_STREAMS=0: never tightened', () => {
  const { policy, events } = recordingPolicy(0);
  for (let index = 0; index < 1000; index++) policy.streamOpened();
  assert.deepEqual(events, []);
});
