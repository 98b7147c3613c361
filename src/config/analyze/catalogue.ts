// The typed catalogue of analyzer messages (Istio's IST codes) and the formatter for their templates.
// Templates use Go's fmt verbs (%s %v %q %d); `formatTemplate` renders them the way Go does for the argument
// types the catalogue uses (strings, ints, errors and lists of them).
import { messageTypes } from './catalogue.gen.ts';

export type Level = 'Error' | 'Warning' | 'Info';

/** One message type of the catalogue, e.g. IST0101 ReferencedResourceNotFound. */
export interface MessageType {
  /** Stable code, `IST` + 4 digits. */
  code: string;
  /** CamelCase name, as istioctl prints in JSON output. */
  name: string;
  level: Level;
  /** Go fmt template with one verb per argument. */
  template: string;
  description: string;
  args: readonly { name: string; type: string }[];
}

export type MessageName = keyof typeof messageTypes;
export type MessageArg = string | number | readonly string[] | readonly number[];

export { messageTypes };

export function messageType(name: MessageName): MessageType {
  return messageTypes[name];
}

/** Looks a message type up by its IST code. */
export function messageTypeByCode(code: string): MessageType | undefined {
  return Object.values(messageTypes).find((m) => m.code === code);
}

/** Go's %q for a string: a double-quoted literal with Go escapes (JSON escapes agree for the common cases). */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

function goValue(a: MessageArg, verb: string): string {
  if (Array.isArray(a)) return `[${(a as readonly (string | number)[]).map((x) => (verb === 'q' ? goQuote(String(x)) : String(x))).join(' ')}]`;
  if (verb === 'q') return goQuote(String(a));
  return String(a);
}

/** Renders a Go fmt template with the given arguments (%% escapes a percent sign). */
export function formatTemplate(template: string, args: readonly MessageArg[]): string {
  let i = 0;
  return template.replace(/%([%sdvq])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    if (a === undefined) return `%!${verb}(MISSING)`;
    return goValue(a, verb);
  });
}
