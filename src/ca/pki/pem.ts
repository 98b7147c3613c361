// PEM framing (RFC 7468): split bundles into blocks, convert between PEM and DER.

const blockRe = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  /** The label, e.g. `CERTIFICATE`, `CERTIFICATE REQUEST`, `PRIVATE KEY`. */
  label: string;
  der: Buffer;
}

/** All PEM blocks in `text`, in order. Text outside blocks (comments, `openssl x509 -text` output) is ignored. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(blockRe)) out.push({ label: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') });
  return out;
}

/** The DER of every block labelled `label`. */
export function pemDecodeAll(text: string, label: string): Buffer[] {
  return pemBlocks(text)
    .filter((b) => b.label === label)
    .map((b) => b.der);
}

export function pemEncode(label: string, der: Buffer | Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Splits a bundle of certificates into one normalised PEM string per certificate. */
export function splitCertificates(text: string): string[] {
  return pemDecodeAll(text, 'CERTIFICATE').map((d) => pemEncode('CERTIFICATE', d));
}
