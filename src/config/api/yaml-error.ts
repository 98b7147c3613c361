// One YAML syntax error as a line for people: the parser's message (with its line and column), then, for the
// mistakes people make most in Kubernetes YAML, what to check. The yaml package's codes name the cause.
import type { YAMLError } from 'yaml';

/** `YAML syntax error: <message> at line L, column C (<what to check>)`. */
export function yamlErrorMessage(e: Pick<YAMLError, 'code' | 'message'>): string {
  const first = e.message.split('\n', 1)[0] ?? e.message;
  const text = first.endsWith(':') ? first.slice(0, -1) : first;
  const hint = yamlHint(e.code, text);
  return `YAML syntax error: ${text}${hint === undefined ? '' : ` (${hint})`}`;
}

function yamlHint(code: YAMLError['code'], text: string): string | undefined {
  switch (code) {
    case 'TAB_AS_INDENT':
      return 'indent with spaces: YAML does not allow tabs';
    case 'DUPLICATE_KEY':
      return 'a key appears twice in one mapping: keep one';
    case 'MISSING_CHAR':
      if (/quote/i.test(text)) return 'a quoted string is not closed';
      return 'a key needs a value after its colon, or the line is not indented under the key it belongs to';
    case 'BAD_INDENT':
      if (/^Flow (sequence|map)/.test(text)) return 'a [ or { above is not closed on its line, or its continuation is not indented more than its key';
      return 'check the indentation of this line against the lines above, with spaces only';
    case 'MULTILINE_IMPLICIT_KEY':
    case 'BLOCK_AS_IMPLICIT_KEY':
      if (/compact mappings/.test(text)) return 'a line is indented more than the fields above it, or a value that contains ": " needs quotes';
      return 'check the indentation of this line and the one above: fields of one object line up, "- " list items sit under their key';
    default:
      return undefined;
  }
}
