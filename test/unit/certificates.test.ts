import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';

import { ensureCertificates } from '../../src/app/tls/certificates.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const tempRoots: string[] = [];

async function tempDir(): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'lazuli-certs-'));
  tempRoots.push(root);
  return path.join(root, 'tls'); // not yet existing: ensureCertificates must create it
}

after(async () => {
  await Promise.all(tempRoots.map((d) => fs.rm(d, { recursive: true, force: true })));
});

function certsOf(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

function leafOf(pem: string): X509Certificate {
  const leaf = certsOf(pem)[0];
  assert.ok(leaf, 'expected at least one certificate');
  return leaf;
}

async function mode(p: string): Promise<number> {
  return (await fs.stat(p)).mode & 0o777;
}

describe('ensureCertificates (generated)', () => {
  test('first call creates the CA and server cert with the right modes', async () => {
    const dir = await tempDir();
    const m = await ensureCertificates(dir, { hostname: 'hub.example.test' });
    assert.equal(m.userSupplied, false);

    if (process.platform !== 'win32') {
      assert.equal(await mode(dir), 0o700);
      assert.equal(await mode(path.join(dir, 'ca.pem')), 0o644);
      assert.equal(await mode(path.join(dir, 'ca-key.pem')), 0o600);
      assert.equal(await mode(path.join(dir, 'server-key.pem')), 0o600);
    }
    assert.deepEqual((await fs.readdir(dir)).sort(), ['ca-key.pem', 'ca.pem', 'server-key.pem', 'server.pem']);

    assert.equal(await fs.readFile(path.join(dir, 'ca.pem'), 'utf8'), m.caPem);
    assert.equal(await fs.readFile(path.join(dir, 'server.pem'), 'utf8'), m.certPem);
    assert.equal(await fs.readFile(path.join(dir, 'server-key.pem'), 'utf8'), m.keyPem);
    const caKeyPem = await fs.readFile(path.join(dir, 'ca-key.pem'), 'utf8');
    assert.match(caKeyPem, /^-----BEGIN PRIVATE KEY-----/);
  });

  test('CA and server certificate have the expected properties', async () => {
    const dir = await tempDir();
    const m = await ensureCertificates(dir, { hostname: 'hub.example.test' });
    const ca = new X509Certificate(m.caPem);
    const chain = certsOf(m.certPem);
    assert.equal(chain.length, 2, 'server.pem is leaf + CA');
    const leaf = chain[0]!;
    assert.equal(chain[1]!.fingerprint256, ca.fingerprint256);

    // CA
    assert.equal(ca.ca, true);
    assert.match(ca.subject, /^CN=Lazuli Root CA hub\.example\.test [0-9a-f]{8}$/);
    assert.equal(ca.subject, ca.issuer);
    assert.ok(ca.verify(ca.publicKey));
    const caLifetime = Date.parse(ca.validTo) - Date.parse(ca.validFrom);
    assert.ok(caLifetime > 3650 * DAY_MS && caLifetime < 3660 * DAY_MS);
    assert.ok(Date.parse(ca.validFrom) <= Date.now() - 59 * 60 * 1000, 'CA notBefore backdated ~1h');
    assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');

    // leaf
    assert.equal(leaf.ca, false);
    assert.equal(leaf.subject, 'CN=hub.example.test');
    assert.ok(leaf.checkIssued(ca));
    assert.ok(leaf.verify(ca.publicKey));
    assert.equal(leaf.checkHost('hub.example.test'), 'hub.example.test');
    assert.equal(leaf.checkHost('localhost'), 'localhost');
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.ok(leaf.checkIP('::1'));
    assert.equal(leaf.checkHost('other.example.test'), undefined);
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']); // EKU serverAuth
    const lifetime = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
    assert.ok(lifetime > 365 * DAY_MS && lifetime < 367 * DAY_MS);
    assert.ok(Date.parse(leaf.validFrom) <= Date.now() - 59 * 60 * 1000, 'leaf notBefore backdated ~1h');

    const key = createPrivateKey(m.keyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(leaf.checkPrivateKey(key));
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(leaf.subjectAltName?.split(', ').length, 4);
  });

  test('hostname "localhost" or an IP literal yields no duplicate SANs', async () => {
    const local = await ensureCertificates(await tempDir(), { hostname: 'localhost' });
    const sans = leafOf(local.certPem).subjectAltName?.split(', ') ?? [];
    assert.equal(sans.length, 3, sans.join(', '));
    assert.equal(new Set(sans).size, sans.length);

    const ip = await ensureCertificates(await tempDir(), { hostname: '10.1.2.3' });
    const leaf = leafOf(ip.certPem);
    assert.equal(leaf.checkIP('10.1.2.3'), '10.1.2.3');
    assert.equal(leaf.subjectAltName?.split(', ').length, 4);
    assert.doesNotMatch(leaf.subjectAltName ?? '', /DNS:10\.1\.2\.3/);

    const v6 = await ensureCertificates(await tempDir(), { hostname: '[::1]' });
    assert.equal(leafOf(v6.certPem).subjectAltName?.split(', ').length, 3);
  });

  test('second call reuses CA and server cert unchanged', async () => {
    const dir = await tempDir();
    const first = await ensureCertificates(dir, { hostname: 'hub.example.test' });
    const statsBefore = await fs.stat(path.join(dir, 'server.pem'));
    const second = await ensureCertificates(dir, { hostname: 'hub.example.test' });
    assert.deepEqual(second, first);
    const statsAfter = await fs.stat(path.join(dir, 'server.pem'));
    assert.equal(statsAfter.ino, statsBefore.ino, 'server.pem not rewritten');
    // "localhost" is always in the SANs, so it does not force a re-issue either
    const third = await ensureCertificates(dir, { hostname: 'LOCALHOST' });
    assert.equal(third.certPem, first.certPem);
  });

  test('a different hostname re-issues the server cert but keeps the CA', async () => {
    const dir = await tempDir();
    const first = await ensureCertificates(dir, { hostname: 'hub.example.test' });
    const second = await ensureCertificates(dir, { hostname: 'other.example.test' });
    assert.equal(second.caPem, first.caPem);
    assert.notEqual(second.certPem, first.certPem);
    assert.notEqual(second.keyPem, first.keyPem);
    const leaf = leafOf(second.certPem);
    assert.equal(leaf.checkHost('other.example.test'), 'other.example.test');
    assert.equal(leaf.checkHost('hub.example.test'), undefined);
    assert.ok(leaf.verify(new X509Certificate(second.caPem).publicKey));
    assert.deepEqual((await fs.readdir(dir)).sort(), ['ca-key.pem', 'ca.pem', 'server-key.pem', 'server.pem']);
  });

  test('a server cert expiring within 30 days is re-issued', async () => {
    const dir = await tempDir();
    const first = await ensureCertificates(dir, { hostname: 'hub.example.test' });
    const at300 = await ensureCertificates(dir, { hostname: 'hub.example.test', now: new Date(Date.now() + 300 * DAY_MS) });
    assert.equal(at300.certPem, first.certPem, 'still >30 days left');
    const later = new Date(Date.now() + 340 * DAY_MS);
    const renewed = await ensureCertificates(dir, { hostname: 'hub.example.test', now: later });
    assert.equal(renewed.caPem, first.caPem);
    assert.notEqual(renewed.certPem, first.certPem);
    const leaf = leafOf(renewed.certPem);
    assert.ok(Date.parse(leaf.validTo) > later.getTime() + 300 * DAY_MS);
  });

  test('a server cert not signed by the current CA is re-issued', async () => {
    const dirA = await tempDir();
    const dirB = await tempDir();
    const a = await ensureCertificates(dirA, { hostname: 'hub.example.test' });
    const b = await ensureCertificates(dirB, { hostname: 'hub.example.test' });
    // plant B's server cert/key into A
    await fs.writeFile(path.join(dirA, 'server.pem'), b.certPem);
    await fs.writeFile(path.join(dirA, 'server-key.pem'), b.keyPem);
    const again = await ensureCertificates(dirA, { hostname: 'hub.example.test' });
    assert.equal(again.caPem, a.caPem);
    assert.notEqual(again.certPem, b.certPem);
    assert.ok(leafOf(again.certPem).verify(new X509Certificate(a.caPem).publicKey));
  });

  test('a server key that does not match server.pem is re-issued', async () => {
    const dir = await tempDir();
    const first = await ensureCertificates(dir, { hostname: 'hub.example.test' });
    const other = await ensureCertificates(await tempDir(), { hostname: 'hub.example.test' });
    await fs.writeFile(path.join(dir, 'server-key.pem'), other.keyPem);
    const again = await ensureCertificates(dir, { hostname: 'hub.example.test' });
    assert.notEqual(again.certPem, first.certPem);
    assert.ok(leafOf(again.certPem).checkPrivateKey(createPrivateKey(again.keyPem)));
  });

  test('a CA certificate without its key is reported, not silently replaced', async () => {
    const dir = await tempDir();
    await ensureCertificates(dir, { hostname: 'hub.example.test' });
    await fs.rm(path.join(dir, 'ca-key.pem'));
    await fs.rm(path.join(dir, 'server.pem'));
    await assert.rejects(
      ensureCertificates(dir, { hostname: 'hub.example.test' }),
      (err: Error) => err.message.includes('ca-key.pem') && err.message.includes('ca.pem'),
    );
  });

  test('an invalid hostname is rejected', async () => {
    await assert.rejects(ensureCertificates(await tempDir(), { hostname: 'bad host,CN=x' }), /invalid hostname/);
  });

  test('a real TLS handshake succeeds against the CA', async () => {
    const dir = await tempDir();
    const m = await ensureCertificates(dir, { hostname: 'hub.example.test' });
    const server = tls.createServer({ cert: m.certPem, key: m.keyPem }, (socket) => {
      socket.end('hello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      for (const servername of ['localhost', 'hub.example.test']) {
        const { authorized, data } = await new Promise<{ authorized: boolean; data: string }>((resolve, reject) => {
          const socket = tls.connect({ host: '127.0.0.1', port, ca: m.caPem, servername }, () => {
            const ok = socket.authorized;
            let data = '';
            socket.setEncoding('utf8');
            socket.on('data', (chunk: string) => (data += chunk));
            socket.on('end', () => resolve({ authorized: ok, data }));
          });
          socket.on('error', reject);
        });
        assert.equal(authorized, true, servername);
        assert.equal(data, 'hello');
      }
      // and without trusting the CA the handshake is rejected
      await assert.rejects(
        new Promise((resolve, reject) => {
          const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost' }, () => {
            socket.destroy();
            resolve(undefined);
          });
          socket.on('error', reject);
        }),
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('ensureCertificates (user-supplied)', () => {
  test('a user-supplied pair is returned unchanged and nothing is generated', async () => {
    const src = await tempDir();
    const generated = await ensureCertificates(src, { hostname: 'hub.example.test' });
    const certFile = path.join(src, 'server.pem');
    const keyFile = path.join(src, 'server-key.pem');

    const dir = await tempDir();
    const m = await ensureCertificates(dir, { hostname: 'ignored.example', certFile, keyFile });
    assert.equal(m.userSupplied, true);
    assert.equal(m.certPem, generated.certPem);
    assert.equal(m.keyPem, generated.keyPem);
    assert.equal(m.caPem, generated.certPem, 'no ca.pem in dir: caPem is the chain itself');
    await assert.rejects(fs.access(dir), 'nothing created in dir');

    // with a ca.pem in dir, that is returned as caPem
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'ca.pem'), generated.caPem);
    const withCa = await ensureCertificates(dir, { hostname: 'x', certFile, keyFile });
    assert.equal(withCa.caPem, generated.caPem);
    assert.deepEqual(await fs.readdir(dir), ['ca.pem']);
  });

  test('a mismatched user-supplied cert/key pair throws, naming the files', async () => {
    const a = await tempDir();
    const b = await tempDir();
    await ensureCertificates(a, { hostname: 'hub.example.test' });
    await ensureCertificates(b, { hostname: 'hub.example.test' });
    const certFile = path.join(a, 'server.pem');
    const keyFile = path.join(b, 'server-key.pem');
    await assert.rejects(
      ensureCertificates(await tempDir(), { hostname: 'hub.example.test', certFile, keyFile }),
      (err: Error) => err.message.includes(certFile) && err.message.includes(keyFile) && /does not match/.test(err.message),
    );
  });

  test('certFile without keyFile, or unreadable files, throw', async () => {
    const dir = await tempDir();
    await assert.rejects(ensureCertificates(dir, { hostname: 'h', certFile: '/nonexistent/cert.pem' }), /together/);
    await assert.rejects(
      ensureCertificates(dir, { hostname: 'h', certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' }),
      /\/nonexistent\/cert\.pem/,
    );
  });
});

test('timings: first call vs reuse', async (t) => {
  const dir = await tempDir();
  let start = performance.now();
  await ensureCertificates(dir, { hostname: 'hub.example.test' });
  const first = performance.now() - start;
  start = performance.now();
  await ensureCertificates(dir, { hostname: 'hub.example.test' });
  const reuse = performance.now() - start;
  t.diagnostic(`ensureCertificates first (fresh dir, module warm): ${first.toFixed(1)} ms, reuse: ${reuse.toFixed(1)} ms`);
  assert.ok(reuse < 1000);
});
