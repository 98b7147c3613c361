// A token-aware pass over a CEL rule's source. It finds identifiers outside string literals and comments so that
// two built-ins whose cel-js semantics differ from Kubernetes' can be routed to Weft's versions
// (`.matches()` → RE2, `duration()` → Go's ParseDuration), and so that transition rules (`oldSelf`) are recognised.

/** Calls renamed to Kubernetes-faithful implementations registered in library.ts. */
export const RENAMED = { matches: 're2Matches', duration: 'goDuration' } as const;

export interface RuleSource {
  /** The rule text with renamed calls. */
  text: string;
  /** True when the rule reads `oldSelf` (a transition rule). */
  usesOldSelf: boolean;
}

const IDENT_START = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

/** Index just past the string literal that starts at `i` (after any r/b prefix), honouring raw and triple quotes. */
function skipString(src: string, i: number, raw: boolean): number {
  const q = src.charAt(i);
  const triple = src.startsWith(q.repeat(3), i);
  const close = triple ? q.repeat(3) : q;
  let j = i + close.length;
  while (j < src.length) {
    if (!raw && src[j] === '\\') {
      j += 2;
      continue;
    }
    if (src.startsWith(close, j)) return j + close.length;
    if (!triple && src[j] === '\n') return j;
    j++;
  }
  return j;
}

export function rewriteRule(src: string): RuleSource {
  let out = '';
  let usesOldSelf = false;
  let prev = ''; // last significant character emitted
  let i = 0;
  while (i < src.length) {
    const c = src.charAt(i);
    if (c === '/' && src[i + 1] === '/') {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      out += src.slice(i, stop);
      i = stop;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = skipString(src, i, false);
      out += src.slice(i, end);
      i = end;
      prev = c;
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < src.length && IDENT_PART.test(src.charAt(j))) j++;
      const word = src.slice(i, j);
      const next = src[j];
      // String prefixes: r"…", b'…', rb"…", br'…' (any case).
      if (/^(?:[rRbB]|[rR][bB]|[bB][rR])$/.test(word) && (next === '"' || next === "'")) {
        const end = skipString(src, j, /[rR]/.test(word));
        out += src.slice(i, end);
        i = end;
        prev = '"';
        continue;
      }
      let k = j;
      while (k < src.length && /\s/.test(src.charAt(k))) k++;
      const callFollows = src[k] === '(';
      let emitted = word;
      if (word === 'oldSelf' && prev !== '.') usesOldSelf = true;
      if (word === 'matches' && prev === '.' && callFollows) emitted = RENAMED.matches;
      if (word === 'duration' && prev !== '.' && callFollows) emitted = RENAMED.duration;
      out += emitted;
      prev = 'a';
      i = j;
      continue;
    }
    out += c;
    if (!/\s/.test(c)) prev = c;
    i++;
  }
  return { text: out, usesOldSelf };
}
