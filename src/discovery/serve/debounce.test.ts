// The debouncer under a driven clock: quiet period, maximum delay, merging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Debouncer } from './debounce.ts';
import { mergePush } from './push-queue.ts';

function fakeTime() {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let nextId = 0;
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => {
      const id = ++nextId;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimer: (h: unknown) => void (timers = timers.filter((t) => t.id !== h)),
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = end;
    },
  };
}

test('fires once after the quiet period, with events merged', () => {
  const t = fakeTime();
  const fired: Array<[number[], number]> = [];
  const d = new Debouncer<number[]>({ quietMs: 100, maxMs: 10_000, merge: (a, b) => [...a, ...b], fire: (m, first) => fired.push([m, first]), ...t });
  d.add([1]);
  t.advance(50);
  d.add([2]);
  t.advance(99);
  assert.equal(fired.length, 0);
  t.advance(1);
  assert.deepEqual(fired, [[[1, 2], 0]]);
});

test('a steady stream of events fires at the maximum delay', () => {
  const t = fakeTime();
  const fired: number[] = [];
  const d = new Debouncer<number>({ quietMs: 100, maxMs: 1000, merge: (a, b) => a + b, fire: () => fired.push(t.now()), ...t });
  for (let i = 0; i < 30; i++) {
    d.add(1);
    t.advance(50);
  }
  assert.deepEqual(fired, [1000]);
});

test('flush fires pending events at once; cancel drops them', () => {
  const t = fakeTime();
  const fired: number[] = [];
  const d = new Debouncer<number>({ quietMs: 100, maxMs: 1000, merge: (a, b) => a + b, fire: (m) => fired.push(m), ...t });
  d.add(2);
  d.add(3);
  d.flush();
  d.add(7);
  d.cancel();
  t.advance(5000);
  assert.deepEqual(fired, [5]);
});

test('merging push requests: full wins, endpoint names union, earliest start', () => {
  const a = { full: false, edsNames: new Set(['x']), reasons: ['endpoint'], startMs: 5 };
  const b = { full: false, edsNames: new Set(['y']), reasons: ['endpoint'], startMs: 3 };
  const m = mergePush(a, b);
  assert.equal(m.full, false);
  assert.deepEqual([...(m.edsNames ?? [])].sort(), ['x', 'y']);
  assert.equal(m.startMs, 3);
  const f = mergePush(m, { full: true, reasons: ['config'], startMs: 9 });
  assert.equal(f.full, true);
  assert.equal(f.edsNames, undefined);
  assert.deepEqual(f.reasons, ['endpoint', 'config']);
});
