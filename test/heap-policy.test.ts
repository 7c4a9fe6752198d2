// StreamHeapPolicy (src/heap-policy.ts): V8's heap growth tightened while many streams are open,
// with one full collection at the switch, and given back below half the threshold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_HEAP_GROWTH_FLAG, StreamHeapPolicy, TIGHT_HEAP_GROWTH_FLAG } from '../src/heap-policy.ts';

function recordingPolicy(tightenAt: number) {
  const events: string[] = [];
  const policy = new StreamHeapPolicy({
    tightenAt,
    setFlags: (flags) => events.push(flags),
    collect: () => events.push('gc'),
    onChange: (tight) => events.push(tight ? 'tight' : 'default'),
  });
  return { policy, events };
}

test('tightened at the threshold (one collection), relaxed at half of it, and again', () => {
  const { policy, events } = recordingPolicy(4);
  for (let index = 0; index < 3; index++) policy.streamOpened();
  assert.deepEqual(events, []);
  policy.streamOpened();
  assert.deepEqual(events, [TIGHT_HEAP_GROWTH_FLAG, 'gc', 'tight']);
  policy.streamOpened();
  policy.streamClosed();
  policy.streamClosed();
  assert.equal(policy.tight, true, '3 open: still above half the threshold');
  policy.streamClosed();
  assert.equal(policy.tight, false, '2 open: relaxed');
  assert.deepEqual(events.slice(3), [DEFAULT_HEAP_GROWTH_FLAG, 'default']);
  policy.streamOpened();
  policy.streamOpened();
  policy.streamOpened();
  assert.equal(policy.tight, true);
  assert.equal(events.filter((event) => event === 'gc').length, 2);
});

test('TIGHT_HEAP_STREAMS=0: never tightened', () => {
  const { policy, events } = recordingPolicy(0);
  for (let index = 0; index < 1000; index++) policy.streamOpened();
  assert.deepEqual(events, []);
});
