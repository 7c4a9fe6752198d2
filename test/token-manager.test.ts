import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as flush } from 'node:timers/promises';
import { TokenManager } from '../src/watsonx/token-manager.ts';
import { IamError } from '../src/watsonx/errors.ts';
import type { IamTokenResponse } from '../src/watsonx/types.ts';

const T0 = Date.UTC(2026, 0, 1);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const KEY = 'key-one-secret';

interface PendingCall {
  apiKey: string;
  resolve: (response: IamTokenResponse) => void;
  reject: (error: unknown) => void;
}

/** A fake clock plus a fetchToken whose calls stay pending until the test settles them. */
function setup(options: { maxEntries?: number } = {}) {
  let time = T0;
  const calls: PendingCall[] = [];
  const backgroundErrors: unknown[] = [];
  const manager = new TokenManager({
    fetchToken: (apiKey) => new Promise((resolve, reject) => calls.push({ apiKey, resolve, reject })),
    now: () => time,
    maxEntries: options.maxEntries,
    onBackgroundError: (error) => backgroundErrors.push(error),
  });
  return {
    manager,
    calls,
    backgroundErrors,
    now: () => time,
    setTime: (ms: number) => {
      time = ms;
    },
    /** Settles call `index` with a token; waits until the manager has stored it. */
    async answer(
      index: number,
      accessToken: string,
      extra: Partial<IamTokenResponse> = { expires_in: 3600 },
    ) {
      const call = calls[index];
      assert.ok(call, `no fetchToken call #${index}`);
      call.resolve({ access_token: accessToken, token_type: 'Bearer', ...extra });
      await flush();
    },
    async fail(index: number, error: unknown = rejected()) {
      const call = calls[index];
      assert.ok(call, `no fetchToken call #${index}`);
      call.reject(error);
      await flush();
    },
  };
}

function rejected(): IamError {
  return new IamError(
    'rejected',
    'IBM Cloud IAM rejected the API key (BXNIM0415E: Provided API key could not be found.)',
    { status: 400, iamCode: 'BXNIM0415E' },
  );
}

/** Fetches the first token for KEY at T0 and returns it. */
async function primed(context: ReturnType<typeof setup>, extra?: Partial<IamTokenResponse>): Promise<string> {
  const pending = context.manager.getToken(KEY);
  await flush();
  await context.answer(context.calls.length - 1, 'token-A', extra);
  return pending;
}

test('a 3600 s token is refreshed at 48 min (80 %), and is unusable 30 s before expiry', async () => {
  const context = setup();
  assert.equal(await primed(context, { expires_in: 3600 }), 'token-A');
  const state = context.manager.state(KEY);
  assert.equal(state.expiresAt, T0 + 3600 * SECOND);
  assert.equal(state.refreshAt, T0 + 48 * MINUTE);

  context.setTime(T0 + 48 * MINUTE - 1);
  assert.equal(await context.manager.getToken(KEY), 'token-A');
  await flush();
  assert.equal(context.calls.length, 1, 'no refresh before 48 min');

  context.setTime(T0 + 48 * MINUTE);
  assert.equal(await context.manager.getToken(KEY), 'token-A');
  await flush();
  assert.equal(context.calls.length, 2, 'background refresh started at 48 min');
});

test('a 600 s token is refreshed 5 min before expiry, and `expiration` wins over expires_in', async () => {
  const context = setup();
  const expiration = T0 / SECOND + 600;
  await primed(context, { expires_in: 3600, expiration });
  const state = context.manager.state(KEY);
  assert.equal(state.expiresAt, T0 + 600 * SECOND);
  // 80 % would be 8 min; 5 min before expiry is earlier.
  assert.equal(state.refreshAt, T0 + 5 * MINUTE);

  context.setTime(T0 + 5 * MINUTE - 1);
  await context.manager.getToken(KEY);
  await flush();
  assert.equal(context.calls.length, 1);
  context.setTime(T0 + 5 * MINUTE);
  await context.manager.getToken(KEY);
  await flush();
  assert.equal(context.calls.length, 2);
});

test('a token shorter than 5 min is due for refresh at once, never before it was fetched', async () => {
  const context = setup();
  await primed(context, { expires_in: 120 });
  assert.equal(context.manager.state(KEY).refreshAt, T0);
  assert.equal(await context.manager.getToken(KEY), 'token-A');
  await flush();
  assert.equal(context.calls.length, 2);
});

test('without expiration or expires_in a token lives 3600 s', async () => {
  const context = setup();
  await primed(context, {});
  assert.equal(context.manager.state(KEY).expiresAt, T0 + 3600 * SECOND);
  assert.equal(context.manager.state(KEY).refreshAt, T0 + 48 * MINUTE);
});

test('a background refresh serves the old token until the new one arrives, then switches', async () => {
  const context = setup();
  await primed(context);
  context.setTime(T0 + 50 * MINUTE);
  assert.equal(await context.manager.getToken(KEY), 'token-A');
  assert.equal(context.manager.state(KEY).status, 'refreshing');
  for (let index = 0; index < 5; index += 1) assert.equal(await context.manager.getToken(KEY), 'token-A');
  await flush();
  assert.equal(context.calls.length, 2, 'one background refresh, not one per call');

  await context.answer(1, 'token-B');
  assert.equal(await context.manager.getToken(KEY), 'token-B');
  const state = context.manager.state(KEY);
  assert.equal(state.status, 'valid');
  assert.equal(state.expiresAt, T0 + 50 * MINUTE + 3600 * SECOND);
  assert.deepEqual(context.backgroundErrors, []);
});

test('a failed background refresh keeps the old token, reports once, and waits 30 s to retry', async () => {
  const context = setup();
  await primed(context);
  context.setTime(T0 + 50 * MINUTE);
  assert.equal(await context.manager.getToken(KEY), 'token-A');
  await flush();
  const error = new IamError('unreachable', 'IBM Cloud IAM answered HTTP 503', { status: 503 });
  await context.fail(1, error);
  assert.deepEqual(context.backgroundErrors, [error]);

  assert.equal(await context.manager.getToken(KEY), 'token-A');
  assert.deepEqual(context.manager.state(KEY), {
    status: 'valid',
    expiresAt: T0 + 3600 * SECOND,
    refreshAt: T0 + 48 * MINUTE,
    lastError: 'IBM Cloud IAM answered HTTP 503',
  });
  context.setTime(T0 + 50 * MINUTE + 29 * SECOND);
  assert.equal(await context.manager.getToken(KEY), 'token-A');
  await flush();
  assert.equal(context.calls.length, 2, 'no retry within 30 s');

  context.setTime(T0 + 50 * MINUTE + 30 * SECOND);
  assert.equal(await context.manager.getToken(KEY), 'token-A');
  await flush();
  assert.equal(context.calls.length, 3, 'retried after 30 s');
  await context.fail(2, new IamError('unreachable', 'IBM Cloud IAM answered HTTP 503'));
  assert.equal(context.backgroundErrors.length, 2);

  // Still failing near expiry: once the token is unusable, callers wait for a fetch of their own.
  context.setTime(T0 + 3600 * SECOND - 30 * SECOND);
  const pending = context.manager.getToken(KEY);
  await flush();
  assert.equal(context.calls.length, 4);
  assert.equal(context.manager.state(KEY).status, 'fetching');
  await context.answer(3, 'token-C');
  assert.equal(await pending, 'token-C');
});

test('an expired token is not served: the caller waits for a new one', async () => {
  const context = setup();
  await primed(context);
  context.setTime(T0 + 3600 * SECOND - 30 * SECOND - 1);
  assert.equal(await context.manager.getToken(KEY), 'token-A', 'still usable 30 s + 1 ms before expiry');
  await flush();
  assert.equal(context.calls.length, 2, 'that call started a background refresh');
  await context.fail(1, new IamError('unreachable', 'IBM Cloud IAM answered HTTP 503'));
  context.setTime(T0 + 3600 * SECOND - 30 * SECOND);
  let settled = false;
  const pending = context.manager.getToken(KEY).then((token) => {
    settled = true;
    return token;
  });
  await flush();
  assert.equal(settled, false, 'did not answer from the expired cache');
  assert.equal(context.calls.length, 3);
  await context.answer(2, 'token-C');
  assert.equal(await pending, 'token-C');
});

test('20 concurrent callers on a cold cache share one fetch and one token', async () => {
  const context = setup();
  const pending = Array.from({ length: 20 }, () => context.manager.getToken(KEY));
  await flush();
  assert.equal(context.calls.length, 1);
  assert.equal(context.manager.state(KEY).status, 'fetching');
  await context.answer(0, 'token-A');
  assert.deepEqual(await Promise.all(pending), Array(20).fill('token-A'));
  assert.equal(context.calls.length, 1);
});

test('20 concurrent callers share one rejection; a failure is not cached and the next call recovers', async () => {
  const context = setup();
  const pending = Array.from({ length: 20 }, () => context.manager.getToken(KEY));
  await flush();
  assert.equal(context.calls.length, 1);
  const settled = Promise.allSettled(pending);
  const error = rejected();
  await context.fail(0, error);
  const results = await settled;
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.equal(result.reason, error);
  }
  assert.deepEqual(context.manager.state(KEY), { status: 'failed', lastError: error.message });
  assert.deepEqual(context.backgroundErrors, [], 'awaited failures are not background errors');

  // IAM is not hammered: for 1 s after the failure callers get the same error without a new fetch.
  await assert.rejects(context.manager.getToken(KEY), (reason) => reason === error);
  await flush();
  assert.equal(context.calls.length, 1, 'no fetch during the backoff');
  context.setTime(T0 + 1000);
  const retry = context.manager.getToken(KEY);
  await flush();
  assert.equal(context.calls.length, 2, 'the failure was not cached');
  await context.answer(1, 'token-B');
  assert.equal(await retry, 'token-B');
  assert.equal(context.manager.state(KEY).status, 'valid');
  assert.equal(context.manager.state(KEY).lastError, undefined);
});

test('a fetchToken that throws synchronously rejects getToken and does not wedge the key', async () => {
  let attempts = 0;
  let now = T0;
  const manager = new TokenManager({
    fetchToken: () => {
      attempts += 1;
      if (attempts === 1) throw new Error('boom');
      return Promise.resolve({ access_token: 'token-A', expires_in: 3600 });
    },
    now: () => now,
  });
  await assert.rejects(manager.getToken(KEY), /boom/);
  now += 1000;
  assert.equal(await manager.getToken(KEY), 'token-A');
});

test('invalidate with the current token makes the next call fetch a new one', async () => {
  const context = setup();
  const tokenA = await primed(context);
  context.manager.invalidate(KEY, tokenA);
  assert.equal(context.manager.state(KEY).status, 'expired');
  const pending = context.manager.getToken(KEY);
  await flush();
  assert.equal(context.calls.length, 2);
  await context.answer(1, 'token-B');
  assert.equal(await pending, 'token-B');
  assert.equal(await context.manager.getToken(KEY), 'token-B');
});

test('invalidate with a stale token is a no-op', async () => {
  const context = setup();
  await primed(context);
  context.manager.invalidate(KEY, 'token-old');
  context.manager.invalidate('another-key', 'token-A');
  assert.equal(await context.manager.getToken(KEY), 'token-A');
  await flush();
  assert.equal(context.calls.length, 1);
  assert.equal(context.manager.state(KEY).status, 'valid');
});

test('a fetch begun before invalidate does not overwrite the token fetched after it', async () => {
  const context = setup();
  const tokenA = await primed(context);
  context.setTime(T0 + 50 * MINUTE);
  assert.equal(await context.manager.getToken(KEY), tokenA); // starts background fetch #1
  await flush();
  assert.equal(context.calls.length, 2);

  context.manager.invalidate(KEY, tokenA);
  const pending = context.manager.getToken(KEY);
  await flush();
  assert.equal(context.calls.length, 3, 'a new fetch, not the one begun before invalidate');
  await context.answer(2, 'token-C', { expires_in: 3600 });
  assert.equal(await pending, 'token-C');

  await context.answer(1, 'token-B-stale', { expires_in: 7200 });
  assert.equal(await context.manager.getToken(KEY), 'token-C');
  assert.equal(context.manager.state(KEY).expiresAt, T0 + 50 * MINUTE + 3600 * SECOND);
});

test('a fetch begun before invalidate that fails does not mark the newer token as failed', async () => {
  const context = setup();
  const tokenA = await primed(context);
  context.setTime(T0 + 50 * MINUTE);
  await context.manager.getToken(KEY); // starts background fetch #1
  await flush();
  context.manager.invalidate(KEY, tokenA);
  const pending = context.manager.getToken(KEY);
  await flush();
  await context.answer(2, 'token-C');
  assert.equal(await pending, 'token-C');

  await context.fail(1);
  assert.equal(await context.manager.getToken(KEY), 'token-C');
  assert.deepEqual(context.manager.state(KEY), {
    status: 'valid',
    expiresAt: T0 + 50 * MINUTE + 3600 * SECOND,
    refreshAt: T0 + 98 * MINUTE,
  });
});

test('the cache holds at most maxEntries credentials, evicting the least recently used', async () => {
  const context = setup({ maxEntries: 2 });
  const fetchFor = async (apiKey: string, accessToken: string) => {
    const pending = context.manager.getToken(apiKey);
    await flush();
    await context.answer(context.calls.length - 1, accessToken);
    return pending;
  };
  await fetchFor('key-1', 'token-1');
  await fetchFor('key-2', 'token-2');
  assert.equal(await context.manager.getToken('key-1'), 'token-1'); // key-1 is now most recent
  await fetchFor('key-3', 'token-3');

  assert.equal(context.manager.state('key-2').status, 'empty', 'least recently used evicted');
  assert.equal(context.manager.state('key-1').status, 'valid');
  assert.equal(context.manager.state('key-3').status, 'valid');
  assert.equal(await context.manager.getToken('key-1'), 'token-1');
  await flush();
  assert.equal(context.calls.length, 3, 'key-1 still cached');
});

test('eviction drops expired credentials before the least recently used one', async () => {
  const context = setup({ maxEntries: 2 });
  const fetchFor = async (apiKey: string, accessToken: string, expiresIn: number) => {
    const pending = context.manager.getToken(apiKey);
    await flush();
    await context.answer(context.calls.length - 1, accessToken, { expires_in: expiresIn });
    return pending;
  };
  await fetchFor('key-long', 'token-long', 3600);
  await fetchFor('key-short', 'token-short', 60); // most recently used, but soon expired
  context.setTime(T0 + 2 * MINUTE);
  assert.equal(context.manager.state('key-short').status, 'expired');
  await fetchFor('key-new', 'token-new', 3600);

  assert.equal(context.manager.state('key-short').status, 'empty', 'expired entry evicted');
  assert.equal(context.manager.state('key-long').status, 'valid', 'older but valid entry kept');
  assert.equal(context.manager.state('key-new').status, 'valid');
});

test('credentials are isolated from each other', async () => {
  const context = setup();
  const first = context.manager.getToken('key-1');
  const second = context.manager.getToken('key-2');
  await flush();
  assert.deepEqual(
    context.calls.map((call) => call.apiKey),
    ['key-1', 'key-2'],
  );
  const secondRejects = assert.rejects(second, IamError);
  await context.answer(0, 'token-1');
  await context.fail(1);
  assert.equal(await first, 'token-1');
  await secondRejects;
  assert.equal(context.manager.state('key-1').status, 'valid');
  assert.equal(context.manager.state('key-2').status, 'failed');

  context.manager.invalidate('key-2', 'token-1');
  assert.equal(await context.manager.getToken('key-1'), 'token-1');
  context.manager.invalidate('key-1', 'token-1');
  assert.equal(context.manager.state('key-1').status, 'expired');
  assert.equal(context.manager.state('key-2').status, 'failed');
});

test('state() walks empty → fetching → valid → refreshing → valid → expired → failed, never showing secrets', async () => {
  const context = setup();
  const states = [context.manager.state(KEY)];
  assert.deepEqual(states[0], { status: 'empty' });

  const pending = context.manager.getToken(KEY);
  states.push(context.manager.state(KEY));
  await flush();
  await context.answer(0, 'token-A');
  await pending;
  states.push(context.manager.state(KEY));
  context.setTime(T0 + 50 * MINUTE);
  await context.manager.getToken(KEY);
  states.push(context.manager.state(KEY));
  await flush();
  await context.answer(1, 'token-B');
  states.push(context.manager.state(KEY));
  context.setTime(T0 + 50 * MINUTE + 3600 * SECOND);
  states.push(context.manager.state(KEY));
  const failing = assert.rejects(context.manager.getToken(KEY));
  await flush();
  await context.fail(2);
  await failing;
  states.push(context.manager.state(KEY));

  assert.deepEqual(
    states.map((state) => state.status),
    ['empty', 'fetching', 'valid', 'refreshing', 'valid', 'expired', 'failed'],
  );
  assert.equal(states[6]?.lastError, rejected().message);
  const text = JSON.stringify(states);
  for (const secret of [KEY, 'token-A', 'token-B'])
    assert.ok(!text.includes(secret), `state shows ${secret}`);
});

test('prefetch fetches in the background: the token is reused and a failure is only reported', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const context = setup();
    context.manager.prefetch(KEY);
    context.manager.prefetch(KEY);
    await flush();
    assert.equal(context.calls.length, 1);
    assert.equal(context.manager.state(KEY).status, 'fetching');
    const error = rejected();
    await context.fail(0, error);
    await flush();
    assert.deepEqual(context.backgroundErrors, [error]);
    assert.equal(context.manager.state(KEY).status, 'failed');

    context.manager.prefetch(KEY);
    await flush();
    assert.equal(context.calls.length, 2, 'prefetch after a failure tries again');
    await context.answer(1, 'token-A');
    assert.equal(await context.manager.getToken(KEY), 'token-A');
    await flush();
    assert.equal(context.calls.length, 2, 'getToken reused the prefetched token');
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('maxEntries must be a positive integer', () => {
  const fetchToken = () => Promise.resolve({ access_token: 'x' });
  assert.throws(() => new TokenManager({ fetchToken, maxEntries: 0 }), RangeError);
  assert.throws(() => new TokenManager({ fetchToken, maxEntries: 1.5 }), RangeError);
});

test('consecutive IAM failures back off 1 s, 2 s, 4 s … without new fetches in between; success resets', async () => {
  let now = T0;
  let calls = 0;
  let succeed = false;
  const outcomes: string[] = [];
  const manager = new TokenManager({
    fetchToken: async () => {
      calls += 1;
      if (succeed) return { access_token: 'token-ok', expires_in: 3600 };
      throw new IamError('unreachable', 'IBM Cloud IAM is unreachable: ECONNREFUSED');
    },
    now: () => now,
    onFetch: (outcome) => outcomes.push(outcome),
  });
  await assert.rejects(manager.getToken(KEY));
  let expected = 1;
  for (const wait of [1000, 2000, 4000]) {
    now += wait - 1;
    await assert.rejects(manager.getToken(KEY));
    assert.equal(calls, expected, 'still inside the backoff: no new call');
    now += 1;
    await assert.rejects(manager.getToken(KEY));
    expected += 1;
    assert.equal(calls, expected, 'the backoff ended: one new call');
  }
  assert.equal(calls, 4);
  now += 8000;
  succeed = true;
  assert.equal(await manager.getToken(KEY), 'token-ok');
  assert.deepEqual(outcomes, ['failure', 'failure', 'failure', 'failure', 'success']);
});

test('peek: the token while it is fresh, nothing once it is due for refresh or unknown; never fetches', async () => {
  const context = setup();
  assert.equal(context.manager.peek(KEY), undefined);
  await primed(context);
  assert.equal(context.manager.peek(KEY), 'token-A');
  context.setTime(T0 + 48 * 60 * SECOND);
  assert.equal(context.manager.peek(KEY), undefined, 'due for refresh: the caller must go through getToken');
  await flush();
  assert.equal(context.calls.length, 1, 'peek started nothing');
});
