// Debouncing of change events: wait for a quiet period (default 100 ms) after the last event, but never longer
// than a maximum delay (default 10 s) after the first, then fire once with everything merged. Timers and the clock
// are injectable so tests drive time instead of sleeping.

export interface DebounceOptions<T> {
  /** Quiet period in ms: fire once no event arrived for this long. */
  quietMs: number;
  /** Maximum delay in ms from the first event to firing, however busy the stream of events. */
  maxMs: number;
  merge(a: T, b: T): T;
  fire(merged: T, firstEventMs: number): void;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export class Debouncer<T> {
  readonly #o: DebounceOptions<T>;
  readonly #now: () => number;
  readonly #set: (fn: () => void, ms: number) => unknown;
  readonly #clear: (handle: unknown) => void;
  #pending: T | undefined;
  #firstMs = 0;
  #lastMs = 0;
  #timer: unknown;

  constructor(o: DebounceOptions<T>) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#set = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clear = o.clearTimer ?? ((h) => clearTimeout(h as NodeJS.Timeout));
  }

  /** Add an event. */
  add(event: T): void {
    const now = this.#now();
    if (this.#pending === undefined) {
      this.#pending = event;
      this.#firstMs = now;
    } else {
      this.#pending = this.#o.merge(this.#pending, event);
    }
    this.#lastMs = now;
    this.#arm();
  }

  /** Fire now if anything is pending (shutdown, tests). */
  flush(): void {
    if (this.#timer !== undefined) this.#clear(this.#timer);
    this.#timer = undefined;
    const p = this.#pending;
    if (p === undefined) return;
    this.#pending = undefined;
    this.#o.fire(p, this.#firstMs);
  }

  /** Drop anything pending and stop the timer. */
  cancel(): void {
    if (this.#timer !== undefined) this.#clear(this.#timer);
    this.#timer = undefined;
    this.#pending = undefined;
  }

  #arm(): void {
    if (this.#timer !== undefined) this.#clear(this.#timer);
    const due = Math.min(this.#lastMs + this.#o.quietMs, this.#firstMs + this.#o.maxMs);
    this.#timer = this.#set(() => this.#check(), Math.max(0, due - this.#now()));
  }

  #check(): void {
    this.#timer = undefined;
    const now = this.#now();
    if (now - this.#lastMs >= this.#o.quietMs || now - this.#firstMs >= this.#o.maxMs) this.flush();
    else this.#arm();
  }
}
