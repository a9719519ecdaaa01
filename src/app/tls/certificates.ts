/**
 * TLS material for the hub.
 *
 * Either the operator supplies a certificate + key (returned as-is after a
 * key/cert match check), or Lazuli maintains its own small PKI in `dir`:
 *
 *   ca.pem           self-signed root CA (ECDSA P-256), 0644 — what clients trust
 *   ca-key.pem       CA private key (PKCS#8), 0600
 *   server.pem       server leaf + CA cert (the chain that is served), 0644
 *   server-key.pem   server private key (PKCS#8), 0600
 *
 * The CA is created once and reused; the server certificate is reused until
 * it no longer covers the requested hostname, is within 30 days of expiry, or
 * was not issued by the current CA. All writes are atomic (temp file + rename).
 *
 * The reuse path only uses node:crypto; `@peculiar/x509` (and its key
 * generation) is loaded lazily, only when something has to be issued.
 */
import { X509Certificate, createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type * as X509Lib from '@peculiar/x509';

export interface TlsMaterial {
  /** PEM of the certificate(s) clients should trust. */
  caPem: string;
  /** PEM certificate chain to serve (leaf first). */
  certPem: string;
  /** PEM private key of the leaf certificate. */
  keyPem: string;
  /** True when the certificate came from `certFile`/`keyFile`. */
  userSupplied: boolean;
}

export interface EnsureCertificatesOptions {
  /** Hostname (or IP literal) clients use to reach the hub. */
  hostname: string;
  /** User-supplied certificate chain (PEM). Requires `keyFile`. */
  certFile?: string;
  /** User-supplied private key (PEM, unencrypted). Requires `certFile`. */
  keyFile?: string;
  /** Clock override (tests). */
  now?: Date;
}

const CA_FILE = 'ca.pem';
const CA_KEY_FILE = 'ca-key.pem';
const SERVER_FILE = 'server.pem';
const SERVER_KEY_FILE = 'server-key.pem';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
const CLOCK_SKEW_MS = HOUR_MS;
const CA_LIFETIME_MS = 3652 * DAY_MS; // ~10 years
const SERVER_LIFETIME_MS = 365 * DAY_MS;
const RENEW_BEFORE_MS = 30 * DAY_MS;

const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

export async function ensureCertificates(
  dir: string,
  options: EnsureCertificatesOptions,
): Promise<TlsMaterial> {
  if (options.certFile || options.keyFile) {
    return loadUserSupplied(dir, options.certFile, options.keyFile);
  }
  const now = options.now ?? new Date();
  const hostname = normalizeHostname(options.hostname);

  await ensureDir(dir);
  const ca = await ensureCa(dir, hostname, now);
  const server = await ensureServerCert(dir, hostname, now, ca);
  return { caPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem, userSupplied: false };
}

// ---------------------------------------------------------------------------
// User-supplied certificate

async function loadUserSupplied(
  dir: string,
  certFile: string | undefined,
  keyFile: string | undefined,
): Promise<TlsMaterial> {
  if (!certFile || !keyFile) {
    throw new Error('TLS: certFile and keyFile must be given together (got only ' +
      (certFile ? `certFile=${certFile}` : `keyFile=${keyFile}`) + ')');
  }
  const certPem = await readRequired(certFile, 'TLS certificate file');
  const keyPem = await readRequired(keyFile, 'TLS key file');

  const first = splitPemCertificates(certPem)[0];
  if (first === undefined) {
    throw new Error(`TLS certificate file ${certFile} contains no PEM certificate`);
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(first);
  } catch (err) {
    throw new Error(`TLS certificate file ${certFile} could not be parsed: ${errMessage(err)}`, { cause: err });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new Error(
      `TLS key file ${keyFile} could not be parsed as an unencrypted PEM private key: ${errMessage(err)}`,
      { cause: err },
    );
  }
  if (!keyMatches(leaf, key)) {
    throw new Error(
      `TLS key file ${keyFile} does not match the certificate in ${certFile} ` +
      `(subject ${leaf.subject.replace(/\n/g, ', ')})`,
    );
  }
  const caPem = (await readOptional(path.join(dir, CA_FILE))) ?? certPem;
  return { caPem, certPem, keyPem, userSupplied: true };
}

// ---------------------------------------------------------------------------
// CA

interface CaMaterial {
  certPem: string;
  cert: X509Certificate;
  keyPem: string;
}

async function ensureCa(dir: string, hostname: string, now: Date): Promise<CaMaterial> {
  const certPath = path.join(dir, CA_FILE);
  const keyPath = path.join(dir, CA_KEY_FILE);
  const [certPem, keyPem] = await Promise.all([readOptional(certPath), readOptional(keyPath)]);

  if (certPem !== undefined) {
    if (keyPem === undefined) {
      throw new Error(
        `TLS CA certificate ${certPath} exists but its private key ${keyPath} is missing; ` +
        `restore the key, or delete ${certPath} to create a new CA (clients must then trust the new CA)`,
      );
    }
    let cert: X509Certificate;
    let key: KeyObject;
    try {
      cert = new X509Certificate(certPem);
      key = createPrivateKey(keyPem);
    } catch (err) {
      throw new Error(`TLS CA files ${certPath} / ${keyPath} could not be parsed: ${errMessage(err)}`, { cause: err });
    }
    if (!keyMatches(cert, key)) {
      throw new Error(`TLS CA key ${keyPath} does not match CA certificate ${certPath}`);
    }
    if (!cert.ca) {
      throw new Error(`TLS CA certificate ${certPath} is not a CA certificate (basicConstraints CA:false)`);
    }
    // A CA that is (nearly) expired cannot issue useful certificates; it was
    // generated by us, so replace it rather than failing forever.
    if (Date.parse(cert.validTo) - now.getTime() > RENEW_BEFORE_MS) {
      return { certPem, cert, keyPem };
    }
  }
  // No CA yet (or only an orphaned key from an interrupted first run, or an
  // expiring CA): create one.
  return createCa(dir, hostname, now);
}

async function createCa(dir: string, hostname: string, now: Date): Promise<CaMaterial> {
  const x509 = await loadX509();
  const keys = await globalThis.crypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify']);
  const id = randomBytes(4).toString('hex');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [`Lazuli Root CA ${hostname} ${id}`] }],
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + CA_LIFETIME_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certPem = normalizePem(cert.toString('pem'));
  const keyPem = await exportPkcs8Pem(keys.privateKey);
  // Key first: a crash in between leaves an orphaned key, which is replaced
  // on the next run; the reverse would leave a CA nobody can sign with.
  await atomicWrite(path.join(dir, CA_KEY_FILE), keyPem, 0o600);
  await atomicWrite(path.join(dir, CA_FILE), certPem, 0o644);
  return { certPem, cert: new X509Certificate(certPem), keyPem };
}

// ---------------------------------------------------------------------------
// Server certificate

async function ensureServerCert(
  dir: string,
  hostname: string,
  now: Date,
  ca: CaMaterial,
): Promise<{ certPem: string; keyPem: string }> {
  const certPath = path.join(dir, SERVER_FILE);
  const keyPath = path.join(dir, SERVER_KEY_FILE);
  const [certPem, keyPem] = await Promise.all([readOptional(certPath), readOptional(keyPath)]);
  if (certPem !== undefined && keyPem !== undefined && serverCertUsable(certPem, keyPem, hostname, now, ca)) {
    return { certPem, keyPem };
  }
  return issueServerCert(dir, hostname, now, ca);
}

function serverCertUsable(certPem: string, keyPem: string, hostname: string, now: Date, ca: CaMaterial): boolean {
  try {
    const first = splitPemCertificates(certPem)[0];
    if (first === undefined) return false;
    const leaf = new X509Certificate(first);
    if (!keyMatches(leaf, createPrivateKey(keyPem))) return false;
    if (!leaf.checkIssued(ca.cert) || !leaf.verify(ca.cert.publicKey)) return false;
    if (Date.parse(leaf.validFrom) > now.getTime()) return false;
    if (Date.parse(leaf.validTo) - now.getTime() <= RENEW_BEFORE_MS) return false;
    const covered = isIP(hostname)
      ? leaf.checkIP(hostname)
      : leaf.checkHost(hostname, { subject: 'never', wildcards: false, partialWildcards: false });
    return covered !== undefined;
  } catch {
    return false; // unparsable / corrupt: re-issue
  }
}

async function issueServerCert(
  dir: string,
  hostname: string,
  now: Date,
  ca: CaMaterial,
): Promise<{ certPem: string; keyPem: string }> {
  const x509 = await loadX509();
  const subtle = globalThis.crypto.subtle;
  const keys = await subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify']);
  const caSigningKey = await subtle.importKey(
    'pkcs8',
    createPrivateKey(ca.keyPem).export({ type: 'pkcs8', format: 'der' }),
    EC_ALGORITHM,
    false,
    ['sign'],
  );
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const authorityKeyId = caKeyId
    ? new x509.AuthorityKeyIdentifierExtension(caKeyId)
    : await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey);

  const notAfter = Math.min(now.getTime() + SERVER_LIFETIME_MS, Date.parse(ca.cert.validTo));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [hostname] }],
    issuer: caCert.subjectName,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(notAfter),
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: caSigningKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      authorityKeyId,
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      new x509.SubjectAlternativeNameExtension(subjectAltNames(hostname), false),
    ],
  });

  const certPem = normalizePem(cert.toString('pem')) + ca.certPem;
  const keyPem = await exportPkcs8Pem(keys.privateKey);
  // Key first; a crash in between leaves a key/cert mismatch, which the next
  // run detects and re-issues.
  await atomicWrite(path.join(dir, SERVER_KEY_FILE), keyPem, 0o600);
  await atomicWrite(path.join(dir, SERVER_FILE), certPem, 0o644);
  return { certPem, keyPem };
}

function subjectAltNames(hostname: string): X509Lib.JsonGeneralName[] {
  const names: X509Lib.JsonGeneralName[] = [];
  const seen = new Set<string>();
  const add = (type: 'dns' | 'ip', value: string): void => {
    const key = `${type}:${value}`;
    if (seen.has(key)) return;
    seen.add(key);
    names.push({ type, value });
  };
  if (isIP(hostname)) add('ip', hostname);
  else add('dns', hostname);
  add('dns', 'localhost');
  add('ip', '127.0.0.1');
  add('ip', '::1');
  return names;
}

// ---------------------------------------------------------------------------
// Helpers

/** Trims, strips IPv6 brackets, lower-cases, canonicalises IPs; rejects junk. */
function normalizeHostname(raw: string): string {
  let host = (raw ?? '').trim();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const family = isIP(host);
  if (family === 6 && !host.includes('%')) {
    return new URL(`http://[${host}]/`).hostname.slice(1, -1); // canonical compressed form
  }
  if (family === 4) return host;
  host = host.toLowerCase().replace(/\.$/, '');
  const label = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
  if (host.length === 0 || host.length > 253 || !new RegExp(`^${label}(?:\\.${label})*$`).test(host)) {
    throw new Error(`TLS: invalid hostname ${JSON.stringify(raw)} (expected a DNS name or IP address)`);
  }
  return host;
}

function keyMatches(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false; // e.g. different key types
  }
}

function splitPemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)?.map((b) => `${b}\n`) ?? [];
}

function normalizePem(pem: string): string {
  return `${pem.replace(/\r\n/g, '\n').trim()}\n`;
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40; // positive, no leading zero byte
  return bytes.toString('hex');
}

async function exportPkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await globalThis.crypto.subtle.exportKey('pkcs8', key));
  return normalizePem(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem' }) as string);
}

async function ensureDir(dir: string): Promise<void> {
  const created = await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) await fs.chmod(dir, 0o700); // exact mode regardless of umask
}

async function atomicWrite(file: string, data: string, mode: number): Promise<void> {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  try {
    const fh = await fs.open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data, 'utf8');
      await fh.chmod(mode); // umask-independent
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function readRequired(file: string, what: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${what} ${file} could not be read: ${errMessage(err)}`, { cause: err });
  }
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------
// Lazy @peculiar/x509 loading

let x509Module: Promise<typeof X509Lib> | undefined;

function loadX509(): Promise<typeof X509Lib> {
  if (x509Module === undefined) {
    const loading = (async () => {
      await import('reflect-metadata'); // tsyringe, under @peculiar/x509, needs the Reflect metadata API
      const mod = (await import('@peculiar/x509')) as typeof X509Lib;
      mod.cryptoProvider.set(globalThis.crypto);
      return mod;
    })();
    loading.catch(() => {
      if (x509Module === loading) x509Module = undefined; // allow a retry after a failed load
    });
    x509Module = loading;
  }
  return x509Module;
}
