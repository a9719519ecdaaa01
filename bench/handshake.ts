// `npm run bench -- handshake [--clients N] [--seconds S]`: full TLS handshakes/s against a hub in its own process,
// with the hub's own ECDSA P-256 certificate and then with an RSA-2048 certificate served by the same hub code. Each
// of N loops opens a fresh connection (no session resumption), sends `GET /health` with `Connection: close` as soon as
// the handshake completes, and waits for the hub to close the socket. Hub CPU per connection is the fair comparison:
// on a small machine the load generator competes with the hub for CPU, so connections/s alone undersells the hub.
import { KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createSecureContext, type PeerCertificate, type SecureContext } from 'node:tls';
import { parseArgs } from 'node:util';
import type * as X509Lib from '@peculiar/x509';
import { formatTable } from '../src/app/cli/table.js';
import { startHubProcess } from '../test/support/hub-process.js';
import { cpuSeconds, percentile } from './support/stats.js';

const PORT_FLAGS = ['--https-port', '0', '--mqtt-port', '0', '--amqp-port', '0', '--log-level', 'warn'];
const REQUEST = 'GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
const CONNECTION_TIMEOUT_MS = 10_000;
const HOUR_MS = 60 * 60 * 1000;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      clients: { type: 'string', default: '32' },
      seconds: { type: 'string', default: '5' },
    },
  });
  if (!/^\d+$/.test(values.clients) || Number(values.clients) < 1) throw new Error(`--clients must be a whole number >= 1, not "${values.clients}"`);
  const clients = Number(values.clients);
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, not "${values.seconds}"`);

  console.log(
    `handshake: ${clients} clients, ${seconds} s per variant, ${availableParallelism()} cores, node ${process.version}, OpenSSL ${process.versions.openssl}`,
  );
  const ecdsa = await variant('ecdsa-p256', clients, seconds, async () => []);
  const rsa = await variant('rsa-2048', clients, seconds, async (dataDir) => {
    const { certPem, keyPem } = await selfSignedRsa2048();
    writeFileSync(join(dataDir, 'cert.pem'), certPem);
    writeFileSync(join(dataDir, 'key.pem'), keyPem, { mode: 0o600 });
    writeFileSync(join(dataDir, 'ca.pem'), certPem); // what startHubProcess's health probe (and our clients) trust
    return ['--tls-cert', join(dataDir, 'cert.pem'), '--tls-key', join(dataDir, 'key.pem')];
  });

  console.log('');
  process.stdout.write(
    formatTable(
      ['variant', 'served', 'connections', 'errors', 'resumed', 'elapsed s', 'conn/s', 'hs p50 ms', 'hs p99 ms', 'rt p50 ms', 'rt p99 ms', 'hub CPU s', 'hub CPU ms/conn', 'bench CPU %'],
      [ecdsa, rsa].map((r) => [
        r.name,
        r.served,
        String(r.connections),
        String(r.errors),
        String(r.resumed),
        r.elapsedS.toFixed(2),
        (r.connections / r.elapsedS).toFixed(0),
        r.handshakeP50.toFixed(2),
        r.handshakeP99.toFixed(2),
        r.roundTripP50.toFixed(2),
        r.roundTripP99.toFixed(2),
        r.hubCpuS === undefined ? 'n/a' : r.hubCpuS.toFixed(2),
        r.hubCpuMsPerConn === undefined ? 'n/a' : r.hubCpuMsPerConn.toFixed(3),
        r.benchCpuPct.toFixed(0),
      ]),
    ),
  );
  for (const r of [ecdsa, rsa]) {
    const worst = [...r.failures].sort((a, b) => b[1] - a[1]);
    for (const [failure, count] of worst.slice(0, 10)) console.log(`  ${r.name}: ${count} x ${failure}`);
    if (worst.length > 10) console.log(`  ${r.name}: ... and ${worst.length - 10} more distinct failures`);
  }
  if (ecdsa.hubCpuMsPerConn !== undefined && rsa.hubCpuMsPerConn !== undefined && ecdsa.hubCpuMsPerConn > 0) {
    console.log(
      `\nrsa-2048 / ecdsa-p256 hub CPU per connection: ${(rsa.hubCpuMsPerConn / ecdsa.hubCpuMsPerConn).toFixed(2)}x ` +
        `(${rsa.hubCpuMsPerConn.toFixed(3)} ms vs ${ecdsa.hubCpuMsPerConn.toFixed(3)} ms)`,
    );
  } else {
    console.log('\nrsa-2048 / ecdsa-p256 hub CPU per connection: n/a (no /proc or no connections)');
  }
  if (ecdsa.errors + rsa.errors + ecdsa.resumed + rsa.resumed > 0) process.exitCode = 1;
}

// --- one variant: a fresh hub in a fresh data dir, loaded for `seconds` ---------------------------------------------

interface VariantResult {
  name: string;
  /** Key type and TLS version/cipher of the first successful handshake, to show what was really measured. */
  served: string;
  connections: number;
  errors: number;
  resumed: number;
  failures: Map<string, number>;
  elapsedS: number;
  handshakeP50: number;
  handshakeP99: number;
  roundTripP50: number;
  roundTripP99: number;
  hubCpuS: number | undefined;
  hubCpuMsPerConn: number | undefined;
  benchCpuPct: number;
}

/** `prepare(dataDir)` writes what the variant needs into the data dir and returns the extra `lazuli start` flags. */
async function variant(name: string, clients: number, seconds: number, prepare: (dataDir: string) => Promise<string[]>): Promise<VariantResult> {
  const dataDir = mkdtempSync(join(tmpdir(), `lazuli-bench-${name}-`));
  try {
    const hub = await startHubProcess(dataDir, [...PORT_FLAGS, ...(await prepare(dataDir))]);
    try {
      const port = hub.settings.ports.https;
      const pid = hub.child.pid!;
      console.log(`${name}: hub pid ${pid} on localhost:${port}, ${seconds} s of load...`);
      const result = await load(name, port, hub.ca, clients, seconds, pid);
      if (hub.child.exitCode !== null) throw new Error(`the ${name} hub exited with ${hub.child.exitCode} during the run:\n${hub.output()}`);
      return result;
    } finally {
      const code = await hub.stop();
      if (code !== 0) console.error(`the ${name} hub exited with ${code}:\n${hub.output()}`);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function load(name: string, port: number, ca: string, clients: number, seconds: number, hubPid: number): Promise<VariantResult> {
  // One client context for the whole variant: building it parses the CA, which would otherwise be repeated for every
  // connection and make the load generator, not the hub, the bottleneck. node:tls keeps no client session cache in it.
  const context = createSecureContext({ ca });
  const handshakeMs: number[] = [];
  const roundTripMs: number[] = [];
  const failures = new Map<string, number>();
  let resumed = 0;
  let served: string | undefined;

  const hubCpu0 = cpuSeconds(hubPid);
  const ownCpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  const loop = async () => {
    while (process.hrtime.bigint() < deadline) {
      const outcome = await connectOnce(port, context, served === undefined);
      if (outcome.resumed) resumed++;
      if (outcome.failure !== undefined) {
        failures.set(outcome.failure, (failures.get(outcome.failure) ?? 0) + 1);
      } else {
        handshakeMs.push(outcome.handshakeMs!);
        roundTripMs.push(outcome.roundTripMs!);
        served ??= outcome.served;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  const hubCpu1 = cpuSeconds(hubPid);
  const own = process.cpuUsage(ownCpu0);

  const hubCpuS = hubCpu0 === undefined || hubCpu1 === undefined ? undefined : hubCpu1 - hubCpu0;
  const connections = handshakeMs.length;
  handshakeMs.sort((a, b) => a - b);
  roundTripMs.sort((a, b) => a - b);
  return {
    name,
    served: served ?? 'n/a',
    connections,
    errors: [...failures.values()].reduce((a, b) => a + b, 0),
    resumed,
    failures,
    elapsedS,
    handshakeP50: percentile(handshakeMs, 50),
    handshakeP99: percentile(handshakeMs, 99),
    roundTripP50: percentile(roundTripMs, 50),
    roundTripP99: percentile(roundTripMs, 99),
    hubCpuS,
    hubCpuMsPerConn: hubCpuS === undefined || connections === 0 ? undefined : (1000 * hubCpuS) / connections,
    benchCpuPct: (100 * (own.user + own.system)) / 1e6 / elapsedS,
  };
}

interface Outcome {
  failure?: string;
  resumed: boolean;
  handshakeMs?: number;
  roundTripMs?: number;
  served?: string;
}

/**
 * One fresh connection: full handshake (no `session` is ever passed, and node:tls keeps no client session cache, so
 * nothing can be resumed; `isSessionReused()` confirms it), then `GET /health`, then wait for the hub to close.
 */
function connectOnce(port: number, secureContext: SecureContext, describeServed: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let handshakeMs: number | undefined;
    let resumed = false;
    let served: string | undefined;
    let answer = '';
    let settled = false;
    const finish = (failure?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const roundTripMs = Number(process.hrtime.bigint() - t0) / 1e6;
      resolve(failure === undefined ? { resumed, handshakeMs: handshakeMs!, roundTripMs, ...(served === undefined ? {} : { served }) } : { failure, resumed });
    };
    const socket = connect({ host: '127.0.0.1', servername: 'localhost', port, secureContext });
    const timer = setTimeout(() => finish(`not closed within ${CONNECTION_TIMEOUT_MS / 1000} s`), CONNECTION_TIMEOUT_MS);
    socket.once('secureConnect', () => {
      handshakeMs = Number(process.hrtime.bigint() - t0) / 1e6;
      resumed = socket.isSessionReused();
      if (describeServed) served = describe(socket.getPeerCertificate(), socket.getProtocol());
      socket.write(REQUEST);
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      if (answer.length < 200) answer += chunk;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => finish(`socket error: ${err.code ?? ''} ${err.message}`.trim()));
    socket.once('close', () => {
      if (handshakeMs === undefined) finish('closed before the handshake completed');
      else if (resumed) finish('the TLS session was resumed');
      else if (!/^HTTP\/1\.1 200 /.test(answer)) finish(`answer: ${JSON.stringify(answer.split('\r\n')[0] ?? '')}`);
      else finish();
    });
  });
}

function describe(cert: PeerCertificate, protocol: string | null): string {
  const c = cert as PeerCertificate & { asn1Curve?: string; nistCurve?: string; modulus?: string };
  const key = c.modulus !== undefined ? `RSA-${c.bits}` : c.nistCurve !== undefined || c.asn1Curve !== undefined ? `EC-${c.nistCurve ?? c.asn1Curve}` : `${c.bits}-bit`;
  return `${key}/${protocol ?? '?'}`;
}

// --- the RSA-2048 certificate -------------------------------------------------------------------------------------

/** A self-signed RSA-2048 (RSASSA-PKCS1-v1_5, SHA-256) server certificate for localhost / 127.0.0.1, key as PKCS#8. */
async function selfSignedRsa2048(): Promise<{ certPem: string; keyPem: string }> {
  await import('reflect-metadata'); // tsyringe, under @peculiar/x509, needs the Reflect metadata API
  const x509 = (await import('@peculiar/x509')) as typeof X509Lib;
  x509.cryptoProvider.set(globalThis.crypto);
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = await globalThis.crypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, no leading zero byte
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: [{ CN: ['localhost'] }],
    notBefore: new Date(now - HOUR_MS),
    notAfter: new Date(now + 24 * HOUR_MS),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      new x509.SubjectAlternativeNameExtension(
        [
          { type: 'dns', value: 'localhost' },
          { type: 'ip', value: '127.0.0.1' },
        ],
        false,
      ),
    ],
  });
  const keyPem = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  return { certPem: `${cert.toString('pem').replace(/\r\n/g, '\n').trim()}\n`, keyPem };
}
