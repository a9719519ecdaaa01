import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { AuthService } from '../../src/core/auth/auth-service.js';
import { isHubError } from '../../src/domain/errors.js';
import type { DeviceRecord, ModuleRecord } from '../../src/domain/identity.js';
import type { SharedAccessPolicy } from '../../src/domain/permissions.js';
import { createSasToken, encodeResource } from '../../src/domain/sas.js';
import type { RegistryStore } from '../../src/ports/registry-store.js';

const key = (n: number) => Buffer.alloc(32, n).toString('base64');
const NOW = 1_800_000_000_000;
const policies: SharedAccessPolicy[] = [
  { name: 'iothubowner', primaryKey: key(1), secondaryKey: key(2), permissions: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'] },
  { name: 'registryRead', primaryKey: key(3), secondaryKey: key(4), permissions: ['RegistryRead'] },
  { name: 'device', primaryKey: key(5), secondaryKey: key(6), permissions: ['DeviceConnect'] },
];
const sasAuth = (p: number, s: number) => ({
  type: 'sas' as const,
  symmetricKey: { primaryKey: key(p), secondaryKey: key(s) },
  x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
});
const device = { deviceId: 'd 1', generationId: 'g1', authentication: sasAuth(7, 8) } as DeviceRecord;
const x509Device = { deviceId: 'x1', generationId: 'g2', authentication: { ...sasAuth(9, 9), type: 'selfSigned' } } as DeviceRecord;
const mod = { deviceId: 'd 1', moduleId: 'm1', generationId: 'g3', authentication: sasAuth(10, 11) } as ModuleRecord;

// Only the two reads the auth service makes; the registry store contract suite covers the real adapters.
const registry = {
  getDevice: async (id: string) => [device, x509Device].find((d) => d.deviceId === id),
  getModule: async (d: string, m: string) => (d === mod.deviceId && m === mod.moduleId ? mod : undefined),
} as unknown as RegistryStore;

const auth = new AuthService({ hostname: 'Hub.Example', policies, registry, now: () => NOW });
const later = NOW / 1000 + 600;

async function rejects401(token: string | undefined, pattern: RegExp) {
  await assert.rejects(auth.authenticate(token), (err) => isHubError(err, 'IotHubUnauthorizedAccess') && err.status === 401 && pattern.test(err.message));
}

describe('AuthService', () => {
  test('a hub policy token yields a policy principal for the whole hub', async () => {
    const p = await auth.authenticate(createSasToken({ resource: 'hub.example', keyBase64: key(1), keyName: 'iothubowner', expiry: later, encode: false }));
    assert.equal(p.kind, 'policy');
    auth.requirePermission(p, 'RegistryWrite');
  });

  test('the secondary key works, and host names match case-insensitively and with a :port', async () => {
    const p = await auth.authenticate(createSasToken({ resource: 'HUB.example:443', keyBase64: key(2), keyName: 'iothubowner', expiry: later }));
    assert.equal(p.kind, 'policy');
  });

  test('a wrong key, unknown policy or other hub is refused', async () => {
    await rejects401(createSasToken({ resource: 'hub.example', keyBase64: key(9), keyName: 'iothubowner', expiry: later }), /policy/);
    await rejects401(createSasToken({ resource: 'hub.example', keyBase64: key(1), keyName: 'nobody', expiry: later }), /policy/);
    await rejects401(createSasToken({ resource: 'other.example', keyBase64: key(1), keyName: 'iothubowner', expiry: later }), /not this hub/);
  });

  test('an expired token is refused', async () => {
    await rejects401(createSasToken({ resource: 'hub.example', keyBase64: key(1), keyName: 'iothubowner', expiry: NOW / 1000 - 1 }), /expired/);
  });

  test('missing and malformed tokens are refused with a reason', async () => {
    await rejects401(undefined, /no SharedAccessSignature/);
    await rejects401('Basic abc', /Malformed/);
  });

  test('a policy lacking a permission is refused', async () => {
    const p = await auth.authenticate(createSasToken({ resource: 'hub.example', keyBase64: key(3), keyName: 'registryRead', expiry: later }));
    auth.requirePermission(p, 'RegistryRead');
    assert.throws(() => auth.requirePermission(p, 'RegistryWrite'), /lacks the RegistryWrite/);
  });

  test('a device key token names the device and cannot use the service API', async () => {
    const p = await auth.authenticate(createSasToken({ resource: 'hub.example/devices/d 1', keyBase64: key(8), expiry: later }));
    assert.deepEqual(p, { kind: 'device', deviceId: 'd 1', generationId: 'g1' });
    assert.throws(() => auth.requirePermission(p, 'RegistryRead'), /cannot be used on the service API/);
    auth.requireDeviceAccess(p, 'd 1');
    assert.throws(() => auth.requireDeviceAccess(p, 'd 2'), /does not grant/);
    assert.throws(() => auth.requireDeviceAccess(p, 'd 1', 'm1'), /does not grant/);
  });

  test('device tokens verify whichever way the SDK percent-encoded the resource', async () => {
    const sr = encodeResource('hub.example/devices/d 1').toLowerCase(); // C SDK style lower-case escapes
    const { computeSignature } = await import('../../src/domain/sas.js');
    const sig = encodeURIComponent(computeSignature(sr, String(later), key(7)));
    const p = await auth.authenticate(`SharedAccessSignature sr=${sr}&sig=${sig}&se=${later}`);
    assert.equal(p.kind, 'device');
  });

  test('a module key token names the module', async () => {
    const p = await auth.authenticate(createSasToken({ resource: 'hub.example/devices/d 1/modules/m1', keyBase64: key(10), expiry: later }));
    assert.deepEqual(p, { kind: 'module', deviceId: 'd 1', moduleId: 'm1', generationId: 'g3' });
    auth.requireDeviceAccess(p, 'd 1', 'm1');
    assert.throws(() => auth.requireDeviceAccess(p, 'd 1'));
  });

  test('unknown devices, wrong device keys and x509 devices are refused alike', async () => {
    for (const [resource, k] of [['hub.example/devices/ghost', 7], ['hub.example/devices/d 1', 1], ['hub.example/devices/x1', 9]] as const) {
      await rejects401(createSasToken({ resource, keyBase64: key(k), expiry: later }), /does not match the identity/);
    }
    await rejects401(createSasToken({ resource: 'hub.example/twins/d 1', keyBase64: key(7), expiry: later }), /must name devices/);
  });

  test('a policy token scoped to a device acts for that device only; the scope is segment-wise', async () => {
    const p = await auth.authenticate(createSasToken({ resource: 'hub.example/devices/d', keyBase64: key(5), keyName: 'device', expiry: later }));
    auth.requireDeviceAccess(p, 'd');
    auth.requireDeviceAccess(p, 'd', 'any-module');
    assert.throws(() => auth.requireDeviceAccess(p, 'd 1'), /does not grant/);
    assert.throws(() => auth.requirePermission(p, 'RegistryRead'), /scoped/);
    const gateway = await auth.authenticate(createSasToken({ resource: 'hub.example/devices', keyBase64: key(5), keyName: 'device', expiry: later }));
    auth.requireDeviceAccess(gateway, 'anyone');
  });
});

describe('AuthService for the Event Hub-compatible endpoint', () => {
  const utf8Sign = (resource: string, keyText: string, keyName: string) => {
    const sr = encodeURIComponent(resource);
    const se = String(Math.floor(later));
    const sig = createHmac('sha256', Buffer.from(keyText, 'utf8')).update(`${sr}\n${se}`).digest('base64');
    return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${keyName}`;
  };

  test('accepts tokens keyed with the UTF-8 bytes of the key text, as @azure/event-hubs signs', async () => {
    const p = await auth.authenticateEventHub(utf8Sign('sb://hub.example:5671/myhub/ConsumerGroups/$Default/Partitions/0', key(1), 'iothubowner'));
    assert.equal(p.policyName, 'iothubowner');
    assert.deepEqual(p.scope, ['myhub', 'ConsumerGroups', '$Default', 'Partitions', '0']);
  });

  test('accepts tokens keyed with the decoded key too', async () => {
    const p = await auth.authenticateEventHub(createSasToken({ resource: 'sb://hub.example/myhub', keyBase64: key(2), keyName: 'iothubowner', expiry: later }));
    assert.deepEqual(p.scope, ['myhub']);
  });

  test('refuses other hosts, wrong keys, device tokens and expired tokens', async () => {
    await assert.rejects(auth.authenticateEventHub(utf8Sign('sb://other.example/myhub', key(1), 'iothubowner')), /not this hub/);
    await assert.rejects(auth.authenticateEventHub(utf8Sign('sb://hub.example/myhub', key(9), 'iothubowner')), /does not match/);
    await assert.rejects(auth.authenticateEventHub(createSasToken({ resource: 'sb://hub.example/myhub', keyBase64: key(1), expiry: later })), /does not match/);
    await assert.rejects(auth.authenticateEventHub(createSasToken({ resource: 'sb://hub.example/myhub', keyBase64: key(1), keyName: 'iothubowner', expiry: NOW / 1000 - 5 })), /expired/);
    await assert.rejects(auth.authenticateEventHub(createSasToken({ resource: 'hub.example/myhub', keyBase64: key(1), keyName: 'iothubowner', expiry: later })), /sb:\/\//);
  });
});

describe('AuthService policy-token cache', () => {
  test('a verified policy token is served again until it expires, and refused after', async () => {
    let now = NOW;
    const clocked = new AuthService({ hostname: 'hub.example', policies, registry, now: () => now });
    const token = createSasToken({ resource: 'hub.example', keyBase64: key(1), keyName: 'iothubowner', expiry: NOW / 1000 + 60, encode: false });
    const first = await clocked.authenticate(token);
    assert.equal(first.kind === 'policy' && first.policyName, 'iothubowner');
    assert.deepEqual(await clocked.authenticate(token), first);
    now = NOW + 61_000;
    await assert.rejects(clocked.authenticate(token), (err) => isHubError(err, 'IotHubUnauthorizedAccess') && /expired/.test(err.message));
  });

  test('a forged signature on a cached token text is still refused (the cache is keyed by the whole token)', async () => {
    const token = createSasToken({ resource: 'hub.example', keyBase64: key(1), keyName: 'iothubowner', expiry: NOW / 1000 + 60, encode: false });
    await auth.authenticate(token);
    const forged = token.replace(/sig=[^&]+/, 'sig=AAAA');
    await assert.rejects(auth.authenticate(forged), (err) => isHubError(err, 'IotHubUnauthorizedAccess'));
  });
});
