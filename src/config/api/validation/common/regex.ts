// User-supplied regular expressions: RE2 syntax only (Envoy's safe_regex and Istio's webhook both use RE2), checked
// and compiled with re2js, never with a JavaScript RegExp (backtracking engines are a denial-of-service risk).
// Matching semantics: Envoy's safe_regex matchers are FULL matches (the whole value must match); use `fullMatch`.
import { RE2JS } from 're2js';
import { err, ok, type Result } from '../../../../core/result.ts';
import type { Reporter } from '../report.ts';

/** Istio rejects regexes longer than this (it approximates Envoy's RE2 program-size limit by length). */
export const MAX_REGEX_LENGTH = 1024;

/** A compiled RE2 pattern. */
export interface Re2Matcher {
  /** The pattern as written. */
  readonly source: string;
  /** True when the whole input matches (Envoy safe_regex semantics, used by every route/header/query matcher). */
  fullMatch(input: string): boolean;
  /** True when some substring of the input matches (used where Envoy searches, e.g. regex rewrite). */
  find(input: string): boolean;
  /** Replace every match with `replacement` (RE2 `\1`-style group references), as Envoy's regex_rewrite does. */
  replaceAll(input: string, replacement: string): string;
  /** Number of capture groups. */
  readonly groupCount: number;
}

/** Constructs JavaScript/PCRE accept but RE2 refuses, with a plain explanation of each. */
const UNSUPPORTED: readonly { test: RegExp; what: string }[] = [
  { test: /\(\?<[=!]/, what: 'lookbehind assertions ((?<= and (?<!) are not supported' },
  { test: /\(\?[=!]/, what: 'lookahead assertions ((?= and (?!) are not supported' },
  { test: /\(\?>/, what: 'atomic groups ((?>…)) are not supported' },
  { test: /(?:[*+?}])[+]/, what: 'possessive quantifiers (*+, ++, ?+, {n}+) are not supported' },
  { test: /\\[1-9]|\\k</, what: 'backreferences (\\1, \\k<name>) are not supported' },
];

/** Strip escaped characters and character classes so the UNSUPPORTED probes do not fire on literal text. */
function withoutLiterals(pattern: string): string {
  return pattern.replace(/\\[^1-9k]/g, '__').replace(/\[(?:\\.|[^\]\\])*\]/g, '__');
}

/**
 * Compile `pattern` as RE2. The error names what RE2 rejected and, for constructs JavaScript accepts but RE2 does not
 * (lookaround, backreferences, possessive/atomic), says so explicitly.
 */
export function compileRe2(pattern: string): Result<Re2Matcher, string> {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    const reason = e instanceof Error ? e.message.replace(/^error parsing regexp: /, '') : String(e);
    const hint = UNSUPPORTED.find((u) => u.test.test(withoutLiterals(pattern)));
    const what = hint === undefined ? reason : `${hint.what} in RE2 (${reason})`;
    return err(`invalid regex ${JSON.stringify(pattern)}: ${what}; RE2 syntax is required (https://github.com/google/re2/wiki/Syntax)`);
  }
  return ok({
    source: pattern,
    fullMatch: (input) => re.matches(input),
    find: (input) => re.test(input),
    replaceAll: (input, replacement) => replaceAllRe2(re, input, replacement),
    groupCount: re.groupCount(),
  });
}

/** RE2::GlobalReplace semantics: `\\0`–`\\9` insert groups, `\\\\` a backslash; an empty match advances one character. */
function replaceAllRe2(re: RE2JS, input: string, replacement: string): string {
  const m = re.matcher(input);
  let out = '';
  let last = 0;
  let pos = 0;
  while (pos <= input.length && m.find(pos)) {
    const start = m.start();
    const end = m.end();
    out += input.slice(last, start);
    for (let i = 0; i < replacement.length; i++) {
      const c = replacement[i];
      const next = replacement[i + 1];
      if (c === '\\' && next !== undefined && next >= '0' && next <= '9') {
        out += m.group(Number(next)) ?? '';
        i++;
      } else if (c === '\\' && next === '\\') {
        out += '\\';
        i++;
      } else {
        out += c;
      }
    }
    last = end;
    pos = end === start ? end + 1 : end;
  }
  return out + input.slice(last);
}

/** Check a user regex against Istio's rules (RE2 syntax, at most 1024 characters; optionally non-empty). */
export function checkRegex(r: Reporter, pattern: unknown, opts: { allowEmpty?: boolean } = {}): Re2Matcher | undefined {
  if (typeof pattern !== 'string') {
    r.error(`must be a string holding an RE2 regular expression, not ${typeof pattern}`);
    return undefined;
  }
  if (pattern === '' && opts.allowEmpty !== true) {
    r.error('regex must not be empty: give an RE2 pattern, or use exact/prefix matching');
    return undefined;
  }
  if (pattern.length > MAX_REGEX_LENGTH) {
    r.error(`regex is too long (${pattern.length} characters): Istio allows at most ${MAX_REGEX_LENGTH}`);
    return undefined;
  }
  const compiled = compileRe2(pattern);
  if (!compiled.ok) {
    r.error(compiled.error);
    return undefined;
  }
  return compiled.value;
}
