// `weft ca`: the certificate authority's operator commands — create it, print its roots, inspect it or a
// certificate file, mint bootstrap tokens for workloads outside Kubernetes, and rotate the root without downtime.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parseArgs } from 'node:util';
import { UsageError, WeftError } from '../../core/errors.ts';
import { identityNameProblem } from '../../core/names/spiffe.ts';
import { readEnv } from '../../core/env.ts';
import { parseGoDuration, NS_PER_S } from '../../config/api/validation/common/duration.ts';
import { parseCaKeyType } from '../../ca/pki/keys.ts';
import { splitCertificates } from '../../ca/pki/pem.ts';
import { type CertDescription, describeCertificate } from '../../ca/pki/x509.ts';
import { loadPluginCa } from '../../ca/server/plugin.ts';
import { type CaState, caDir, finishRotation, initCaState, requireCaState, requireTokenKeys, rotateRoot, rotationActive, trustedRoots } from '../../ca/server/store.ts';
import { mintBootstrapToken } from '../../ca/server/auth/token.ts';
import { IdentityManager } from '../../agent/identity/manager.ts';
import { formatSpiffeId } from '../../core/names/spiffe.ts';
import type { CliIo } from '../io.ts';

export const summary = 'Certificate authority: init, root, inspect, token, rotate-root, request';

const help = `Usage: weft ca <subcommand> [flags]

Subcommands:
  init          Create the CA in the state dir (done by 'weft up' too); prints the root
                  --state-dir DIR  --trust-domain TD (default cluster.local)  --key-type ecdsa-p256|rsa-2048
  root          Print the trusted root certificate(s), PEM, for workloads to trust
                  --state-dir DIR | --plugin-ca-dir DIR
  inspect       Describe the CA (roots, generation, rotation), or the certificates in FILE...
                  [--state-dir DIR | --plugin-ca-dir DIR | FILE...]  [-o text|json]
  token         Mint a bootstrap token (JWT) proving a workload identity to the CA
                  --namespace NS --service-account SA [--ttl DURATION (default 24h)] --state-dir DIR
  rotate-root   Start a root rotation: a new root signs, the old one stays trusted for --overlap
                  --state-dir DIR [--overlap DURATION (default 2160h = 90 days)]
                  --finish [--force]  end the rotation: the old root leaves the trust bundle
  request       Get a workload certificate from a running control plane (key generated here), as an agent does
                  --out-dir DIR  [--ca-address HOST:PORT (default 127.0.0.1:15012)]  [--ttl DURATION]
                  --token JWT | --token-file FILE | $WEFT_BOOTSTRAP_TOKEN
                  --root-file FILE | --state-dir DIR   roots that the CA's serving certificate chains to
                  [--key-type ecdsa-p256|rsa-2048]  [--ca-server-name NAME]

The state dir defaults to $WEFT_STATE_DIR. Durations use Go syntax (90s, 30m, 24h); 'd' (days) is accepted too.
Exit codes: 0 done; 2 usage error, no CA in the state dir, unreadable file, refused rotation, or a CA request that
failed (unreachable, credentials refused, identity refused).
`;

const flagSpec = {
  'state-dir': { type: 'string' },
  'plugin-ca-dir': { type: 'string' },
  'trust-domain': { type: 'string' },
  'key-type': { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'service-account': { type: 'string' },
  ttl: { type: 'string' },
  overlap: { type: 'string' },
  finish: { type: 'boolean' },
  force: { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  'out-dir': { type: 'string' },
  'ca-address': { type: 'string' },
  'ca-server-name': { type: 'string' },
  'root-file': { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = { [K in keyof typeof flagSpec]?: (typeof flagSpec)[K]['type'] extends 'boolean' ? boolean : string };

/** Seconds in a duration flag: Go syntax, or a whole number of days (`90d`). */
export function parseDurationFlag(name: string, text: string): number {
  const days = /^(\d+)d$/.exec(text);
  if (days) return Number(days[1]) * 86_400;
  const d = parseGoDuration(text);
  if (!d.ok) throw new UsageError(`--${name}: ${d.error}`);
  const seconds = Number(d.value / NS_PER_S);
  if (seconds < 1) throw new UsageError(`--${name} must be at least 1s`);
  return seconds;
}

function stateDirOf(f: Flags): string {
  const dir = f['state-dir'] ?? readEnv().stateDir;
  if (!dir) throw new UsageError('--state-dir is required (or set WEFT_STATE_DIR)');
  return dir;
}

function describeLines(d: CertDescription, indent = '  '): string {
  const lines = [
    `subject:      ${d.subject || '(empty)'}`,
    `issuer:       ${d.issuer}`,
    `serial:       ${d.serialNumber}`,
    `valid:        ${d.notBefore} → ${d.notAfter}`,
    `key:          ${d.keyType}${d.isCa ? ', CA' : ''}`,
    ...(d.subjectAltNames.length ? [`SANs:         ${d.subjectAltNames.join(', ')}`] : []),
    `sha256:       ${d.sha256Fingerprint}`,
  ];
  return lines.map((l) => indent + l).join('\n') + '\n';
}

function caSummary(s: CaState, now: Date): Record<string, unknown> {
  const m = s.manifest;
  return {
    directory: s.dir,
    trustDomain: m.trustDomain,
    keyType: m.keyType,
    generation: m.generation,
    rotation: m.rotation ? { ...m.rotation, active: rotationActive(m, now) } : null,
    signingRoot: describeCertificate(s.rootPem),
    trustedRoots: trustedRoots(s, now).map(describeCertificate),
  };
}

function printCa(io: CliIo, s: CaState, now: Date): void {
  const m = s.manifest;
  io.out(`CA in ${s.dir}\n  trust domain: ${m.trustDomain}\n  key type:     ${m.keyType}\n  generation:   ${m.generation}\n`);
  if (m.rotation && rotationActive(m, now)) {
    io.out(`  rotation:     from generation ${m.rotation.from} since ${m.rotation.startedAt}; old root trusted until ${m.rotation.overlapUntil}\n`);
  } else if (m.rotation) {
    io.out(`  rotation:     from generation ${m.rotation.from} complete (overlap ended ${m.rotation.overlapUntil}); run 'weft ca rotate-root --finish' to tidy up\n`);
  }
  io.out('Signing root:\n' + describeLines(describeCertificate(s.rootPem)));
  const roots = trustedRoots(s, now);
  if (roots.length === 1) return;
  io.out(`Trusted roots (${roots.length}, oldest first):\n`);
  io.out(roots.map((r) => describeLines(describeCertificate(r))).join('\n'));
}

async function init(f: Flags, io: CliIo): Promise<number> {
  const keyType = parseCaKeyType(f['key-type'] ?? 'ecdsa-p256');
  if (!keyType) throw new UsageError(`--key-type must be ecdsa-p256 or rsa-2048, not "${f['key-type']}"`);
  const stateDir = stateDirOf(f);
  const { created, state } = await initCaState({ stateDir, trustDomain: f['trust-domain'] ?? 'cluster.local', keyType });
  io.out(created ? `Created a new CA in ${state.dir}\n` : `A CA already exists in ${state.dir}; keeping it\n`);
  printCa(io, state, new Date());
  return 0;
}

function root(f: Flags, io: CliIo): number {
  if (f['plugin-ca-dir']) io.out(loadPluginCa(f['plugin-ca-dir']).rootsPem.join(''));
  else io.out(trustedRoots(requireCaState(stateDirOf(f)), new Date()).join(''));
  return 0;
}

function inspect(f: Flags, files: string[], io: CliIo): number {
  const json = f.output === 'json';
  if (f.output && !json && f.output !== 'text') throw new UsageError(`-o must be text or json, not "${f.output}"`);
  if (files.length > 0) {
    const out: Record<string, CertDescription[]> = {};
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new WeftError('WEFT_ERR_IO', `cannot read ${file}: ${(e as Error).message}`);
      }
      const certs = splitCertificates(text);
      if (certs.length === 0) throw new WeftError('WEFT_ERR_IO', `${file} holds no PEM certificate`);
      out[file] = certs.map(describeCertificate);
    }
    if (json) io.out(JSON.stringify(out, null, 2) + '\n');
    else for (const [file, ds] of Object.entries(out)) ds.forEach((d, i) => io.out(`${file} [${i}]:\n${describeLines(d)}`));
    return 0;
  }
  if (f['plugin-ca-dir']) {
    const p = loadPluginCa(f['plugin-ca-dir']);
    const d = { directory: f['plugin-ca-dir'], signing: describeCertificate(p.signerPem), chain: p.intermediatesPem.map(describeCertificate), trustedRoots: p.rootsPem.map(describeCertificate) };
    if (json) io.out(JSON.stringify(d, null, 2) + '\n');
    else {
      io.out(`Plug-in CA in ${d.directory}\nSigning certificate:\n${describeLines(d.signing)}`);
      io.out(`Trusted roots (${d.trustedRoots.length}):\n${d.trustedRoots.map((r) => describeLines(r)).join('\n')}`);
    }
    return 0;
  }
  const s = requireCaState(stateDirOf(f));
  const now = new Date();
  if (json) io.out(JSON.stringify(caSummary(s, now), null, 2) + '\n');
  else printCa(io, s, now);
  return 0;
}

async function token(f: Flags, io: CliIo): Promise<number> {
  const namespace = f.namespace;
  const serviceAccount = f['service-account'];
  if (!namespace || !serviceAccount) throw new UsageError('--namespace and --service-account are required');
  const problem = identityNameProblem(namespace, serviceAccount);
  if (problem) throw new UsageError(problem);
  const ttlSeconds = f.ttl ? parseDurationFlag('ttl', f.ttl) : 86_400;
  const jwt = await mintBootstrapToken({ keys: requireTokenKeys(stateDirOf(f)), identity: { namespace, serviceAccount }, ttlSeconds });
  io.out(jwt + '\n');
  return 0;
}

async function rotate(f: Flags, io: CliIo): Promise<number> {
  const stateDir = stateDirOf(f);
  if (f.finish) {
    const s = finishRotation({ stateDir, force: f.force === true });
    io.out(`Rotation finished: only generation ${s.manifest.generation} is trusted now.\n`);
    io.out('Trusted root:\n' + describeLines(describeCertificate(s.rootPem)));
    return 0;
  }
  if (f.force) throw new UsageError('--force goes with --finish');
  const overlapMs = (f.overlap ? parseDurationFlag('overlap', f.overlap) : 90 * 86_400) * 1000;
  const s = await rotateRoot({ stateDir, overlapMs });
  io.out(`Started a root rotation in ${caDir(stateDir)}: generation ${s.manifest.rotation!.from} → ${s.manifest.generation}.\n`);
  io.out(`New certificates are signed by the new root (cross-signed by the old one, so workloads that trust only the old root accept them).\n`);
  io.out(`Both roots are trusted until ${s.manifest.rotation!.overlapUntil}; a running control plane picks this up within seconds.\n`);
  io.out('New root:\n' + describeLines(describeCertificate(s.rootPem)));
  return 0;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new WeftError('WEFT_ERR_IO', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** gRPC status of a failed CSR call → Weft's error catalogue, with the next step. */
function requestError(e: unknown, address: string): WeftError {
  const se = e as Partial<grpc.ServiceError>;
  const details = se.details ?? (e instanceof Error ? e.message : String(e));
  switch (se.code) {
    case grpc.status.UNAUTHENTICATED:
      return new WeftError('WEFT_ERR_AUTH', `the CA did not accept the credentials: ${details}`);
    case grpc.status.PERMISSION_DENIED:
      return new WeftError('WEFT_ERR_PERMISSION', `the CA refused the request: ${details}`);
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
      return new WeftError('WEFT_ERR_UNAVAILABLE', `cannot reach the CA at ${address}: ${details}. Is 'weft up' running, and is --root-file the root it serves?`);
    default:
      return new WeftError('WEFT_ERR_CA', `the certificate request failed: ${details}`);
  }
}

async function request(f: Flags, io: CliIo): Promise<number> {
  const outDir = f['out-dir'];
  if (!outDir) throw new UsageError('--out-dir is required: where to write cert-chain.pem, key.pem and root-cert.pem');
  const token = f.token ?? (f['token-file'] ? readText(f['token-file'], 'token file').trim() : readEnv().bootstrapToken);
  if (!token) throw new UsageError('a bootstrap token is required: --token, --token-file or $WEFT_BOOTSTRAP_TOKEN (mint one with `weft ca token`)');
  const rootsPem = f['root-file'] ? readText(f['root-file'], 'root file') : f['state-dir'] ? trustedRoots(requireCaState(f['state-dir']), new Date()).join('') : undefined;
  if (!rootsPem) throw new UsageError("--root-file or --state-dir is required to verify the CA's serving certificate (see `weft ca root`)");
  const keyType = parseCaKeyType(f['key-type'] ?? 'ecdsa-p256');
  if (!keyType) throw new UsageError(`--key-type must be ecdsa-p256 or rsa-2048, not "${f['key-type']}"`);
  const address = f['ca-address'] ?? '127.0.0.1:15012';
  const manager = new IdentityManager({
    caAddress: address,
    caRootsPem: rootsPem,
    token: () => token,
    keyType,
    ttlSeconds: f.ttl ? parseDurationFlag('ttl', f.ttl) : 0,
    ...(f['ca-server-name'] ? { caServerName: f['ca-server-name'] } : {}),
  });
  let id;
  try {
    id = await manager.renewNow();
  } catch (e) {
    throw requestError(e, address);
  } finally {
    manager.close();
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'cert-chain.pem'), id.certChainPem);
  writeFileSync(join(outDir, 'key.pem'), id.keyPem, { mode: 0o600 });
  chmodSync(join(outDir, 'key.pem'), 0o600);
  writeFileSync(join(outDir, 'root-cert.pem'), id.rootsPem);
  io.out(`identity:   ${formatSpiffeId(id.spiffeId)}\nserial:     ${id.serialNumber}\nvalid:      ${id.notBefore.toISOString()} → ${id.notAfter.toISOString()}\n`);
  io.out(`written:    ${join(outDir, 'cert-chain.pem')}, ${join(outDir, 'key.pem')} (0600), ${join(outDir, 'root-cert.pem')}\n`);
  return 0;
}

/** node:util parseArgs's error, in the words the other commands use (its own text suggests '--' quoting, wrongly here). */
function parseArgsProblem(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown }).code;
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) return `unknown flag ${unknown[1]}`;
  const missing = /^Option '(\S+) <value>' argument missing/.exec(message);
  if (missing) return `flag ${missing[1]} needs a value`;
  const noValue = /^Option '(\S+)' does not take an argument/.exec(message);
  if (noValue) return `flag ${noValue[1]} takes no value`;
  return message;
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.out(help);
    return sub === undefined ? 2 : 0;
  }
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: flagSpec, allowPositionals: true, strict: true }) as { values: Flags; positionals: string[] };
  } catch (e) {
    throw new UsageError(`${parseArgsProblem(e)}; run 'weft ca --help'`);
  }
  const f = parsed.values;
  if (f.help) {
    io.out(help);
    return 0;
  }
  if (sub !== 'inspect' && parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
  switch (sub) {
    case 'init':
      return init(f, io);
    case 'root':
      return root(f, io);
    case 'inspect':
      return inspect(f, parsed.positionals, io);
    case 'token':
      return token(f, io);
    case 'rotate-root':
      return rotate(f, io);
    case 'request':
      return request(f, io);
    default:
      throw new UsageError(`unknown subcommand "${sub}". Run 'weft ca --help'`);
  }
}
