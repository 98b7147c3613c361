// productpage's Prometheus counter, as the sample exposes it: request_result{destination_app, response_code}, one
// series per backend and status. Written out by hand (a dozen lines) rather than with a metrics library, which would
// add a tenth of a second to every start of the demo.

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Series {
  app: string;
  code: number;
  count: number;
  /** Unix time (s) the series was first seen, exposed as _created as Python's client does. */
  created: number;
}

export class RequestResults {
  readonly #series = new Map<string, Series>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  inc(app: string, code: number): void {
    const key = `${app} ${code}`;
    const s = this.#series.get(key);
    if (s) s.count++;
    else this.#series.set(key, { app, code, count: 1, created: this.#now() / 1000 });
  }

  /** The Prometheus text exposition (format 0.0.4). */
  render(): string {
    const all = [...this.#series.values()].sort((a, b) => a.app.localeCompare(b.app) || a.code - b.code);
    const labels = (s: Series): string => `{destination_app="${s.app}",response_code="${s.code}"}`;
    return [
      '# HELP request_result_total Results of requests',
      '# TYPE request_result_total counter',
      ...all.map((s) => `request_result_total${labels(s)} ${s.count}`),
      '# HELP request_result_created Results of requests',
      '# TYPE request_result_created gauge',
      ...all.map((s) => `request_result_created${labels(s)} ${s.created}`),
      '',
    ].join('\n');
  }
}
