// The self-signed CA's state under `<state-dir>/ca/`: root generations, the cross-signed certificate used during a
// root rotation, the bootstrap-token signing key, and `ca.json`, the manifest naming what is current.
// Files other than ca.json never change once written; ca.json is replaced atomically (write + rename), last, so a
// running control plane that notices a new ca.json always finds every file it names.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { WeftError } from '../../core/errors.ts';
import { type CaKeyType, type KeyPair, generateCaKey, loadPrivateKey, privateKeyPem } from '../pki/keys.ts';
import { DAY_MS, ROOT_LIFETIME_MS, createCaCertificate, rootSubject } from '../pki/x509.ts';

/** A root rotation in progress: both roots are trusted until `overlapUntil`. */
export interface RotationState {
  /** Generation being replaced. */
  from: number;
  startedAt: string;
  /** When the old root leaves the trust bundle (RFC 3339). */
  overlapUntil: string;
}

/** Contents of `ca/ca.json`. */
export interface CaManifest {
  version: 1;
  keyType: CaKeyType;
  trustDomain: string;
  /** Generation of the root that signs now. */
  generation: number;
  createdAt: string;
  rotation: RotationState | null;
}

export interface CaState {
  dir: string;
  manifest: CaManifest;
  rootPem: string;
  rootKeys: KeyPair;
  /** During a rotation: the old root, and the new root's key certified by the old root. */
  previous?: { rootPem: string; crossPem: string };
}

export const caDir = (stateDir: string): string => join(stateDir, 'ca');
const manifestPath = (dir: string): string => join(dir, 'ca.json');
const rootCertFile = (n: number): string => `root-${n}-cert.pem`;
const rootKeyFile = (n: number): string => `root-${n}-key.pem`;
const crossFile = (n: number): string => `cross-${n}.pem`;
const tokenKeyFile = 'token-key.pem';
/** The trust bundle, rewritten on every change, for operators to copy (same content as `weft ca root`). */
export const bundleFile = 'root-cert.pem';

/** Writes a private key readable by its owner only. */
function writeSecret(path: string, pem: string, flag: 'w' | 'wx' = 'w'): void {
  writeFileSync(path, pem, { mode: 0o600, flag });
  chmodSync(path, 0o600);
}

function writeManifest(dir: string, m: CaManifest): void {
  const tmp = join(dir, `.ca.json.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(m, null, 2) + '\n', { mode: 0o644 });
  renameSync(tmp, manifestPath(dir));
}

// Root files of a generation that ca.json does not name yet (an interrupted init or rotation) are simply
// overwritten: nothing can be using them, because ca.json is always written last.
async function newRoot(dir: string, trustDomain: string, keyType: CaKeyType, generation: number, now: Date): Promise<{ pem: string; keys: KeyPair }> {
  const keys = await generateCaKey(keyType);
  const pem = await createCaCertificate({ subject: rootSubject(trustDomain, generation), keys, notBefore: now, notAfter: new Date(now.getTime() + ROOT_LIFETIME_MS) });
  writeSecret(join(dir, rootKeyFile(generation)), privateKeyPem(keys.privateKey));
  writeFileSync(join(dir, rootCertFile(generation)), pem, { mode: 0o644 });
  return { pem, keys };
}

export interface InitOptions {
  stateDir: string;
  trustDomain: string;
  keyType: CaKeyType;
  now?: Date;
}

/** Loads the CA under the state dir, creating it first if there is none. `created` says which happened. */
export async function initCaState(o: InitOptions): Promise<{ created: boolean; state: CaState }> {
  const existing = loadCaState(o.stateDir);
  if (existing) return { created: false, state: existing };
  const dir = caDir(o.stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const now = o.now ?? new Date();
  const generation = 1;
  const root = await newRoot(dir, o.trustDomain, o.keyType, generation, now);
  await ensureTokenKeys(o.stateDir);
  const manifest: CaManifest = { version: 1, keyType: o.keyType, trustDomain: o.trustDomain, generation, createdAt: now.toISOString(), rotation: null };
  writeFileSync(join(dir, bundleFile), root.pem, { mode: 0o644 });
  writeManifest(dir, manifest);
  const state = loadCaState(o.stateDir);
  if (!state) throw new WeftError('WEFT_ERR_INTERNAL', `the CA written to ${dir} could not be read back`);
  return { created: true, state };
}

/** The key that signs bootstrap tokens, created on first use (also in plug-in CA mode, which has no root key). */
export async function ensureTokenKeys(stateDir: string): Promise<KeyPair> {
  const dir = caDir(stateDir);
  const path = join(dir, tokenKeyFile);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keys = await generateCaKey('ecdsa-p256');
    try {
      writeSecret(path, privateKeyPem(keys.privateKey), 'wx');
    } catch (e) {
      // Another process created it first: use theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  return loadPrivateKey(readFile(dir, tokenKeyFile));
}

/** The token key, or a clear error when the state dir has none. */
export function requireTokenKeys(stateDir: string): KeyPair {
  const path = join(caDir(stateDir), tokenKeyFile);
  if (!existsSync(path)) throw new WeftError('WEFT_ERR_NOT_FOUND', `there is no token key in ${caDir(stateDir)}: run 'weft ca init --state-dir ${stateDir}' (or 'weft up', which creates it)`);
  return loadPrivateKey(readFile(caDir(stateDir), tokenKeyFile));
}

/** A cheap fingerprint of ca.json (mtime, size, inode) that changes whenever the manifest is replaced. */
export function manifestStamp(stateDir: string): string | undefined {
  try {
    const s = statSync(manifestPath(caDir(stateDir)));
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return undefined;
  }
}

function parseManifest(path: string): CaManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new WeftError('WEFT_ERR_CA', `${path} is not valid JSON; restore it from a backup or move the ca directory away to create a new CA`, { cause: e });
  }
  const m = raw as Partial<CaManifest>;
  if (m.version !== 1 || typeof m.generation !== 'number' || (m.keyType !== 'ecdsa-p256' && m.keyType !== 'rsa-2048') || typeof m.trustDomain !== 'string') {
    throw new WeftError('WEFT_ERR_CA', `${path} is not a Weft CA manifest (version 1): restore it or move the ca directory away`);
  }
  return m as CaManifest;
}

function readFile(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, name), 'utf8');
  } catch (e) {
    throw new WeftError('WEFT_ERR_CA', `${join(dir, name)} is missing or unreadable but ca.json refers to it; restore it from a backup`, { cause: e });
  }
}

/** Reads the CA state, or undefined when the state dir holds no CA yet. */
export function loadCaState(stateDir: string): CaState | undefined {
  const dir = caDir(stateDir);
  if (!existsSync(manifestPath(dir))) return undefined;
  const manifest = parseManifest(manifestPath(dir));
  const n = manifest.generation;
  const state: CaState = {
    dir,
    manifest,
    rootPem: readFile(dir, rootCertFile(n)),
    rootKeys: loadPrivateKey(readFile(dir, rootKeyFile(n))),
  };
  if (manifest.rotation) state.previous = { rootPem: readFile(dir, rootCertFile(manifest.rotation.from)), crossPem: readFile(dir, crossFile(n)) };
  return state;
}

export function requireCaState(stateDir: string): CaState {
  const s = loadCaState(stateDir);
  if (!s) throw new WeftError('WEFT_ERR_NOT_FOUND', `there is no CA in ${caDir(stateDir)}: run 'weft ca init --state-dir ${stateDir}' (or 'weft up', which creates it)`);
  return s;
}

/** True while both the old and the new root are trusted. */
export function rotationActive(m: CaManifest, now: Date): boolean {
  return m.rotation !== null && now.getTime() < Date.parse(m.rotation.overlapUntil);
}

/** The roots workloads must trust now, oldest first. */
export function trustedRoots(s: CaState, now: Date): string[] {
  return s.previous && rotationActive(s.manifest, now) ? [s.previous.rootPem, s.rootPem] : [s.rootPem];
}

export interface RotateOptions {
  stateDir: string;
  /** How long the old root stays trusted; at least the CA's maximum certificate TTL. Default 90 days. */
  overlapMs?: number;
  now?: Date;
}

/**
 * Starts a root rotation: a new root generation signs from now on, and its key is cross-signed by the old root so
 * that workloads which still trust only the old root accept certificates from the new one. Both roots are in the
 * trust bundle until the overlap ends, by which time every certificate from the old root has expired.
 */
export async function rotateRoot(o: RotateOptions): Promise<CaState> {
  const s = requireCaState(o.stateDir);
  const now = o.now ?? new Date();
  if (rotationActive(s.manifest, now)) {
    throw new WeftError('WEFT_ERR_CA', `a root rotation is already in progress until ${s.manifest.rotation!.overlapUntil}; end it first with 'weft ca rotate-root --finish --state-dir ${o.stateDir}'`);
  }
  const from = s.manifest.generation;
  const to = from + 1;
  const root = await newRoot(s.dir, s.manifest.trustDomain, s.manifest.keyType, to, now);
  const oldNotAfter = new Date(new X509Certificate(s.rootPem).validTo);
  const cross = await createCaCertificate({
    subject: rootSubject(s.manifest.trustDomain, to),
    keys: root.keys,
    notBefore: now,
    notAfter: oldNotAfter,
    issuer: { certPem: s.rootPem, keys: s.rootKeys },
  });
  writeFileSync(join(s.dir, crossFile(to)), cross, { mode: 0o644 });
  const overlapUntil = new Date(now.getTime() + (o.overlapMs ?? 90 * DAY_MS));
  const manifest: CaManifest = { ...s.manifest, generation: to, rotation: { from, startedAt: now.toISOString(), overlapUntil: overlapUntil.toISOString() } };
  writeFileSync(join(s.dir, bundleFile), s.rootPem + root.pem, { mode: 0o644 });
  writeManifest(s.dir, manifest);
  return requireCaState(o.stateDir);
}

/** Ends a rotation: the old root leaves the trust bundle. Refused before the overlap ends unless `force`. */
export function finishRotation(o: { stateDir: string; force: boolean; now?: Date }): CaState {
  const s = requireCaState(o.stateDir);
  const now = o.now ?? new Date();
  if (!s.manifest.rotation) throw new WeftError('WEFT_ERR_CA', 'no root rotation is in progress');
  if (rotationActive(s.manifest, now) && !o.force) {
    throw new WeftError(
      'WEFT_ERR_CA',
      `the overlap lasts until ${s.manifest.rotation.overlapUntil}; certificates from the old root may still be in use. Add --force once every workload has rotated`,
    );
  }
  writeFileSync(join(s.dir, bundleFile), s.rootPem, { mode: 0o644 });
  writeManifest(s.dir, { ...s.manifest, rotation: null });
  return requireCaState(o.stateDir);
}
