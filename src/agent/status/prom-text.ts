// Prometheus text exposition (format 0.0.4, and OpenMetrics up to `# EOF`) parsed into metric families and merged
// from several sources — the proxy's own metrics, the application's, the agent's — into one valid page: every family
// once, with one HELP and one TYPE, all its samples together, no series twice. A later source's family whose type
// disagrees with an earlier one is dropped (and reported) rather than making the whole page invalid.

/** One metric family as read from a page. */
export interface Family {
  name: string;
  help: string | undefined;
  /** counter, gauge, histogram, summary, untyped (OpenMetrics: unknown, info, stateset, gaugehistogram). */
  type: string | undefined;
  /** Sample lines as written (name, labels, value, optional timestamp). */
  samples: string[];
  /** `name{labels}` of each sample, to drop repeated series. */
  series: Set<string>;
}

/** Suffixes under which a typed family's samples appear (histogram, summary; OpenMetrics counters and infos). */
const SUFFIXES: ReadonlyArray<[string, readonly string[]]> = [
  ['_bucket', ['histogram', 'gaugehistogram']],
  ['_count', ['histogram', 'summary']],
  ['_sum', ['histogram', 'summary']],
  ['_created', ['histogram', 'summary', 'counter']],
  ['_gcount', ['gaugehistogram']],
  ['_gsum', ['gaugehistogram']],
  ['_total', ['counter']],
  ['_info', ['info']],
];

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** End index (exclusive) of the `{…}` label set starting at `start`, honouring quoted values; -1 when unterminated. */
function labelsEnd(line: string, start: number): number {
  let quoted = false;
  for (let i = start + 1; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x7d /* } */) return i + 1;
  }
  return -1;
}

/** Parse one page into its families, in order of first appearance. Malformed lines are skipped and counted. */
export function parseExposition(text: string): { families: Family[]; malformed: number } {
  const byName = new Map<string, Family>();
  const families: Family[] = [];
  let malformed = 0;
  const family = (name: string): Family => {
    let f = byName.get(name);
    if (!f) {
      f = { name, help: undefined, type: undefined, samples: [], series: new Set() };
      byName.set(name, f);
      families.push(f);
    }
    return f;
  };
  const familyOfSample = (name: string): Family => {
    const exact = byName.get(name);
    if (exact?.type !== undefined) return exact;
    for (const [suffix, types] of SUFFIXES) {
      if (!name.endsWith(suffix)) continue;
      const base = byName.get(name.slice(0, -suffix.length));
      if (base?.type !== undefined && types.includes(base.type)) return base;
    }
    return exact ?? family(name);
  };
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(.*))?$/.exec(line);
      if (line.startsWith('# EOF')) break;
      if (!m) continue; // other comments carry nothing
      const f = family(m[2]!);
      if (m[1] === 'HELP') f.help ??= m[3] ?? '';
      else f.type ??= (m[3] ?? 'untyped').trim().toLowerCase();
      continue;
    }
    const name = NAME.exec(line)?.[0];
    if (name === undefined) {
      malformed++;
      continue;
    }
    let end = name.length;
    if (line[end] === '{') {
      end = labelsEnd(line, end);
      if (end < 0) {
        malformed++;
        continue;
      }
    }
    if (!/^\s+\S/.test(line.slice(end))) {
      malformed++;
      continue;
    }
    const f = familyOfSample(name);
    const key = line.slice(0, end);
    if (f.series.has(key)) continue;
    f.series.add(key);
    f.samples.push(line);
  }
  return { families, malformed };
}

export interface MergeResult {
  text: string;
  /** `source: family` of each family dropped because its type disagreed with an earlier source's. */
  conflicts: string[];
}

/** Merge pages (earlier sources win on HELP, TYPE and repeated series) into one page. */
export function mergeExpositions(sources: ReadonlyArray<{ name: string; text: string }>): MergeResult {
  const merged = new Map<string, Family>();
  const conflicts: string[] = [];
  for (const source of sources) {
    for (const f of parseExposition(source.text).families) {
      const have = merged.get(f.name);
      if (!have) {
        merged.set(f.name, f);
        continue;
      }
      const a = have.type ?? 'untyped';
      const b = f.type ?? 'untyped';
      if (a !== b) {
        if (f.samples.length > 0) conflicts.push(`${source.name}: ${f.name} (${b}, already ${a})`);
        continue;
      }
      have.help ??= f.help;
      for (const s of f.samples) {
        const key = seriesKey(s);
        if (have.series.has(key)) continue;
        have.series.add(key);
        have.samples.push(s);
      }
    }
  }
  const out: string[] = [];
  for (const f of merged.values()) {
    if (f.samples.length === 0 && f.type === undefined) continue;
    if (f.help !== undefined) out.push(`# HELP ${f.name} ${f.help}`);
    if (f.type !== undefined) out.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) out.push(s);
  }
  return { text: out.length === 0 ? '' : out.join('\n') + '\n', conflicts };
}

function seriesKey(sample: string): string {
  const name = NAME.exec(sample)?.[0] ?? '';
  if (sample[name.length] !== '{') return name;
  const end = labelsEnd(sample, name.length);
  return end < 0 ? sample : sample.slice(0, end);
}
