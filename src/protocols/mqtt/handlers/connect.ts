import type { IConnectPacket } from 'mqtt-packet';
import { identityKey, type DeviceIdentity } from '../../../domain/device-identity.js';
import { parseSasToken } from '../../../domain/sas.js';
import { ConnectIdentityError, isHubHost, parseClientId, parseUsername, type ClaimedIdentity } from '../connect-identity.js';
import { CONNACK, ConnectRefusal, MQTT5_UNSUPPORTED_PROTOCOL_VERSION, refusalFor } from '../connect-refusal.js';
import { atDeadline } from '../deadline.js';
import { keepAliveTimeoutMs } from '../keep-alive.js';
import type { MqttConnection } from '../mqtt-connection.js';
import { MqttSession } from '../mqtt-session.js';
import { classifyFilter } from '../subscription-filters.js';
import { willMessage } from '../will.js';

interface Connecting {
  connection: MqttConnection;
  packet: IConnectPacket;
  claimed?: ClaimedIdentity;
  token?: string;
  identity?: DeviceIdentity;
  sessionPresent: boolean;
}

type ConnectStep = (c: Connecting) => void | Promise<void>;

/** [MQTT-3.1.2-2]: IoT Hub speaks MQTT 3.1.1 (level 4). MQTT 5 clients get an MQTT 5 CONNACK they can read. */
function requireMqtt311({ packet }: Connecting): void {
  if (packet.protocolVersion === 5) {
    throw new ConnectRefusal(MQTT5_UNSUPPORTED_PROTOCOL_VERSION, 'MQTT 5 CONNECT: this hub serves MQTT 3.1.1 only', 5);
  }
  if (packet.protocolVersion !== 4 || packet.protocolId !== 'MQTT') {
    throw new ConnectRefusal(CONNACK.unacceptableProtocolVersion, `CONNECT for ${packet.protocolId} level ${packet.protocolVersion}: this hub serves MQTT 3.1.1`);
  }
}

/** The client id names the identity; the username must name the same one, on this hub. */
function readClaimedIdentity(c: Connecting): void {
  const { packet, connection } = c;
  try {
    const ids = parseClientId(packet.clientId);
    if (packet.username === undefined) throw new ConnectIdentityError('no username');
    const { host, modelId } = parseUsername(packet.username, ids);
    if (!isHubHost(host, connection.ctx.hub.info.hostname)) throw new ConnectIdentityError(`the username's host "${host}" is not this hub`);
    c.claimed = modelId === undefined ? ids : { ...ids, modelId };
  } catch (err) {
    if (err instanceof ConnectIdentityError) throw new ConnectRefusal(CONNACK.notAuthorized, err.message);
    throw err;
  }
  connection.log = connection.log.child({ deviceId: c.claimed.deviceId, moduleId: c.claimed.moduleId });
}

function requirePassword(c: Connecting): void {
  if (!c.packet.password) throw new ConnectRefusal(CONNACK.notAuthorized, 'no password: X.509 client certificates are not supported yet');
  c.token = c.packet.password.toString('utf8');
}

async function authenticate(c: Connecting): Promise<void> {
  const { deviceId, moduleId, modelId } = c.claimed!;
  c.identity = await c.connection.ctx.hub.devices.authenticate(c.token, deviceId, moduleId, modelId);
}

/** [MQTT-3.1.4-2]: one connection per identity; attaching closes the previous one, as IoT Hub does. */
function attach({ connection, identity }: Connecting): void {
  const { hub, live } = connection.ctx;
  const detach = hub.connections.attach(identity!, { close: (reason) => connection.close('hub', reason) }, 'mqtt');
  connection.identity = identity;
  connection.onClose(detach);
  const key = identityKey(identity!.deviceId, identity!.moduleId);
  live.set(key, connection);
  connection.onClose(() => {
    if (live.get(key) === connection) live.delete(key);
  });
}

function keepWill({ connection, packet, identity }: Connecting): void {
  if (!packet.will) return;
  const will = willMessage(packet.will, identity!);
  if (typeof will === 'string') connection.log.warn({ topic: packet.will.topic, reason: will }, 'ignoring the will');
  else connection.will = will;
}

/**
 * [MQTT-3.1.2-4..6]: CleanSession=0 resumes the stored session (or starts one); CleanSession=1 discards it and the
 * session lives only as long as this connection.
 */
async function restoreSession(c: Connecting): Promise<void> {
  const { connection, packet, identity } = c;
  const { sessions, settings } = connection.ctx;
  const session = new MqttSession(packet.clientId, !packet.clean, sessions, settings.now);
  if (packet.clean) {
    await sessions.remove(packet.clientId);
  } else {
    const stored = await sessions.load(packet.clientId);
    if (stored) {
      c.sessionPresent = true;
      for (const subscription of stored.subscriptions) {
        const kind = classifyFilter(subscription.topic, identity!);
        if (kind) session.set(kind, subscription);
        else connection.log.warn({ topic: subscription.topic }, 'dropping a stored subscription this identity may not have');
      }
    } else {
      await session.save();
    }
  }
  connection.session = session;
}

/** IoT Hub closes the connection when its token expires; the SDKs renew by reconnecting. */
function closeWhenTokenExpires({ connection, token }: Connecting): void {
  const expiresAt = parseSasToken(token!).expiry * 1000;
  connection.onClose(atDeadline(expiresAt, connection.ctx.settings.now, () => connection.close('token-expired', 'the SAS token expired')));
}

function startKeepAlive({ connection, packet }: Connecting): void {
  const timeout = keepAliveTimeoutMs(packet.keepalive ?? 0, connection.ctx.settings.maxKeepAliveTimeoutMs);
  if (timeout === undefined) connection.keepAlive.stop();
  else connection.keepAlive.start(timeout, () => connection.close('keep-alive-timeout', `nothing received for ${timeout} ms`));
}

const connectSteps: readonly ConnectStep[] = [
  requireMqtt311,
  readClaimedIdentity,
  requirePassword,
  authenticate,
  attach,
  keepWill,
  restoreSession,
  closeWhenTokenExpires,
  startKeepAlive,
];

export async function handleConnect(connection: MqttConnection, packet: IConnectPacket): Promise<void> {
  connection.connecting();
  const c: Connecting = { connection, packet, sessionPresent: false };
  try {
    for (const step of connectSteps) {
      await step(c);
      // The client may have gone while a step waited.
      if (connection.closed) return;
    }
  } catch (err) {
    refuse(connection, err);
    return;
  }
  // [MQTT-3.2.2-1]: with CleanSession=1, sessionPresent is 0.
  connection.write({ cmd: 'connack', returnCode: CONNACK.accepted, sessionPresent: c.sessionPresent });
  connection.log.info({ clean: packet.clean, keepalive: packet.keepalive, sessionPresent: c.sessionPresent }, 'MQTT client connected');
  connection.connected();
  // A restored session may hold a C2D subscription: what was queued meanwhile goes out now.
  connection.c2d.start();
  connection.methods.start();
  connection.twinDesired.start();
}

function refuse(connection: MqttConnection, err: unknown): void {
  const refusal = refusalFor(err);
  if (refusal.returnCode === CONNACK.serverUnavailable) connection.log.error({ err }, 'an MQTT CONNECT failed in the hub');
  if (refusal.protocolVersion === 5) connection.write({ cmd: 'connack', reasonCode: refusal.returnCode, sessionPresent: false }, 5);
  else connection.write({ cmd: 'connack', returnCode: refusal.returnCode, sessionPresent: false });
  connection.close('connect-refused', refusal.message, { returnCode: refusal.returnCode });
}
