// Server-side TLS contexts for listener filter chains, built from a DownstreamTlsConfig and reloaded when the files
// behind it change. SDS `default`/`ROOTCA` are the workload identity (SecretStore); any other SDS name is a Gateway
// `credentialName` read from the credentials directory, laid out as Kubernetes TLS secrets are mounted:
//   DIR/<name>/tls.crt, tls.key, ca.crt   (also Istio's generic-secret keys cert, key, cacert)
//   DIR/<name>-cacert/ca.crt | cacert     (a separate CA secret for MUTUAL, else DIR/<name>/ca.crt)
// Every new connection stats the files (a few microseconds, far below a handshake) and rebuilds the context when one
// changed; a context that fails to build (a half-written pair) keeps the last good one in force.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { SecretStore } from './secrets.ts';
import type { DownstreamTlsConfig, TlsSource } from './downstream-tls.ts';

/** File names accepted in a credential directory, in order of preference. */
export const credentialFiles = { cert: ['tls.crt', 'cert'], key: ['tls.key', 'key'], ca: ['ca.crt', 'cacert'] } as const;

interface Built {
  fingerprint: string;
  context: SecureContext;
}

/** A PEM value and the file (or secret generation) it came from, for change detection. */
interface Pem {
  pem: string | undefined;
  stamp: string;
  /** Why there is no PEM (for the log). */
  missing?: string;
}

export class ServerContexts {
  /** Directory of Gateway credentials (`weft proxy router --credentials-dir`); undefined = credentialName cannot resolve. */
  credentialsDir: string | undefined;
  private readonly secrets: () => SecretStore | undefined;
  private readonly log: (level: 'warn', message: string) => void;
  private readonly built = new WeakMap<DownstreamTlsConfig, Built>();
  private readonly warned = new Set<string>();

  constructor(secrets: () => SecretStore | undefined, log: (level: 'warn', message: string) => void) {
    this.secrets = secrets;
    this.log = log;
  }

  /** The context for a chain, or why TLS cannot be terminated now (no certificate yet, unreadable files). */
  context(cfg: DownstreamTlsConfig): SecureContext | string {
    const cert = cfg.cert.kind === 'sds' ? this.sdsCert(cfg.cert.name) : { chain: this.source(cfg.cert.chain, 'cert'), key: this.source(cfg.cert.key, 'key') };
    const ca = cfg.clientCa ? this.source(cfg.clientCa, 'ca') : undefined;
    const fingerprint = `${cert.chain.stamp}|${cert.key.stamp}|${ca?.stamp ?? ''}`;
    const last = this.built.get(cfg);
    if (last && last.fingerprint === fingerprint) return last.context;
    const missing = cert.chain.missing ?? cert.key.missing ?? ca?.missing;
    if (missing || cert.chain.pem === undefined || cert.key.pem === undefined || (ca && ca.pem === undefined)) {
      return last?.context ?? this.fail(missing ?? 'certificate not available');
    }
    try {
      // sessionIdContext: resuming clients would otherwise fail the handshake on chains that request a certificate.
      const context = createSecureContext({ cert: cert.chain.pem, key: cert.key.pem, ...(ca ? { ca: ca.pem } : {}), minVersion: cfg.minVersion, maxVersion: cfg.maxVersion, ...(cfg.ciphers ? { ciphers: cfg.ciphers } : {}), sessionIdContext: 'weft-gateway' });
      this.built.set(cfg, { fingerprint, context });
      return context;
    } catch (e) {
      const why = `cannot build the TLS context: ${e instanceof Error ? e.message : String(e)}`;
      if (last) {
        this.warnOnce(`${why}; keeping the previous certificate`);
        return last.context;
      }
      return this.fail(why);
    }
  }

  private fail(why: string): string {
    this.warnOnce(why);
    return why;
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message) || this.warned.size > 1000) return;
    this.warned.add(message);
    this.log('warn', `gateway TLS: ${message}`);
  }

  private sdsCert(name: string): { chain: Pem; key: Pem } {
    if (name === 'default') {
      const store = this.secrets();
      const s = store?.current();
      const stamp = `sds:${store?.generation ?? 0}`;
      const missing = s ? undefined : 'no workload certificate yet (SDS "default")';
      return { chain: { pem: s?.certChainPem, stamp, missing }, key: { pem: s?.keyPem, stamp, missing } };
    }
    return { chain: this.credential(name, 'cert'), key: this.credential(name, 'key') };
  }

  private source(src: TlsSource, part: 'cert' | 'key' | 'ca'): Pem {
    switch (src.kind) {
      case 'inline':
        return { pem: src.pem, stamp: 'inline' };
      case 'file':
        return readStamped([src.path]);
      case 'sds':
        if (src.name === 'ROOTCA') {
          const store = this.secrets();
          const s = store?.current();
          return { pem: s?.rootsPem, stamp: `sds:${store?.generation ?? 0}`, missing: s ? undefined : 'no mesh roots yet (SDS "ROOTCA")' };
        }
        if (src.name === 'default') return this.sdsCert('default')[part === 'key' ? 'key' : 'chain'];
        return this.credential(src.name, part);
    }
  }

  /** One part of a credential from the credentials directory. */
  private credential(rawName: string, part: 'cert' | 'key' | 'ca'): Pem {
    const name = rawName.replace(/^kubernetes:\/\//, '');
    const dir = this.credentialsDir;
    if (!dir) return { pem: undefined, stamp: 'none', missing: `credential "${name}" needs --credentials-dir (weft proxy router --credentials-dir DIR reads DIR/${name}/tls.crt and tls.key)` };
    if (name === '' || name.includes('/') || name.includes('\\') || name.startsWith('.')) return { pem: undefined, stamp: 'bad', missing: `credential name "${name}" is not a valid secret name` };
    let paths: string[];
    if (part === 'ca') {
      // `<name>-cacert` is Istio's separate CA secret; without such a directory the CA sits beside the certificate.
      const base = name.endsWith('-cacert') ? name.slice(0, -'-cacert'.length) : name;
      paths = [...credentialFiles.ca.map((f) => join(dir, name, f)), ...(base !== name ? credentialFiles.ca.map((f) => join(dir, base, f)) : [])];
    } else paths = credentialFiles[part].map((f) => join(dir, name, f));
    const r = readStamped(paths);
    if (r.missing) r.missing = `credential "${name}": none of ${paths.join(', ')} is readable`;
    return r;
  }
}

/** The first readable file of `paths`, stamped with every candidate's identity (a new or replaced file changes it). */
function readStamped(paths: string[]): Pem {
  const stamps: string[] = [];
  let found: string | undefined;
  for (const p of paths) {
    const st = statSync(p, { throwIfNoEntry: false });
    stamps.push(st ? `${p}:${st.ino}:${st.size}:${st.mtimeMs}` : `${p}:-`);
    if (st && found === undefined) found = p;
  }
  const stamp = stamps.join(',');
  if (found === undefined) return { pem: undefined, stamp, missing: `none of ${paths.join(', ')} exists` };
  try {
    return { pem: readFileSync(found, 'utf8'), stamp };
  } catch (e) {
    return { pem: undefined, stamp, missing: `cannot read ${found}: ${e instanceof Error ? e.message : String(e)}` };
  }
}
