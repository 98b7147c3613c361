// Go's time.ParseDuration, which Kubernetes' CEL `duration()` uses: a signed sequence of decimal numbers with
// optional fractions and units (ns, us/µs, ms, s, m, h), e.g. "300ms", "1.5h", "2h45m"; "0" alone needs no unit.

const UNIT_NANOS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

const MAX_NANOS = (1n << 63n) - 1n;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** Nanoseconds of a Go duration string, or an error message (Go's wording is not copied, its rules are). */
export function parseGoDuration(input: string): { ok: true; nanos: bigint } | { ok: false; error: string } {
  const bad = (why: string): { ok: false; error: string } => ({ ok: false, error: `invalid duration ${JSON.stringify(input)}: ${why}` });
  let s = input;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return { ok: true, nanos: 0n };
  if (s === '') return bad('empty');
  let total = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) return bad('expected a number');
    let i = 0;
    while (isDigit(s[i])) i++;
    const whole = s.slice(0, i);
    s = s.slice(i);
    let frac = '';
    if (s[0] === '.') {
      let j = 1;
      while (isDigit(s[j])) j++;
      frac = s.slice(1, j);
      s = s.slice(j);
    }
    if (whole === '' && frac === '') return bad('expected digits');
    let u = 0;
    while (u < s.length && s[u] !== '.' && !isDigit(s[u])) u++;
    if (u === 0) return bad('missing unit');
    const unitName = s.slice(0, u);
    s = s.slice(u);
    const unit = UNIT_NANOS[unitName];
    if (unit === undefined) return bad(`unknown unit ${JSON.stringify(unitName)}`);
    let value = BigInt(whole === '' ? '0' : whole) * unit;
    if (frac !== '') value += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    total += value;
    if (total > MAX_NANOS + (negative ? 1n : 0n)) return bad('out of range');
  }
  return { ok: true, nanos: negative ? -total : total };
}
