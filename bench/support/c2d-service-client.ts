import rhea, { type Connection, type EventContext, type Message, type Sender } from 'rhea';
import { readPolicies } from '../../src/app/data-dir.js';
import { createSasToken } from '../../src/domain/sas.js';
import type { HubProcess } from '../../test/support/hub-process.js';
import { once, openRaw, putToken } from '../../test/support/amqp-test-client.js';

/** One record of a feedback message, the fields a load client reads. */
export interface FeedbackRecordSeen {
  originalMessageId: string;
  statusCode: string;
}

/** A back end as `azure-iothub` is one: a C2D sender and a feedback receiver on one AMQP/TLS connection. */
export interface C2dServiceClient {
  connection: Connection;
  sender: Sender;
  close(): void;
}

/** Feedback messages are taken with this much link credit and accepted as they arrive. */
const FEEDBACK_CREDIT = 100;

/**
 * Opens the connection, authorises it with a CBS put-token (name: the hub's hostname; token: an iothubowner SAS
 * token), then the `/messages/devicebound` sender and the `/messages/serviceBound/feedback` receiver.
 */
export async function openC2dServiceClient(hub: HubProcess, onFeedback: (records: FeedbackRecordSeen[], arrivedAt: number) => void): Promise<C2dServiceClient> {
  const owner = readPolicies(hub.dataDir)?.find((p) => p.name === 'iothubowner');
  if (!owner) throw new Error('the hub has no iothubowner policy');
  const host = hub.settings.hostname;
  const token = createSasToken({ resource: host, keyBase64: owner.primaryKey, keyName: owner.name, expiry: Date.now() / 1000 + 3600, encode: false });
  const connection = await openRaw(hub.settings.ports.amqp, hub.ca);
  try {
    const reply = await putToken(connection, host, token);
    const status = reply.application_properties?.['status-code'];
    if (status !== 200) throw new Error(`CBS put-token answered ${String(status)}: ${String(reply.application_properties?.['status-description'] ?? '')}`);
    const sender = connection.open_sender({ target: { address: '/messages/devicebound' } });
    const feedback = connection.open_receiver({ source: { address: '/messages/serviceBound/feedback' }, credit_window: FEEDBACK_CREDIT, autoaccept: true });
    feedback.on('message', (ctx: EventContext) => onFeedback(feedbackRecordsOf(ctx.message!), performance.now()));
    await Promise.all([once(sender, 'sendable'), once(feedback, 'receiver_open')]);
    return { connection, sender, close: () => connection.close() };
  } catch (err) {
    connection.close();
    throw err;
  }
}

function feedbackRecordsOf(message: Message): FeedbackRecordSeen[] {
  const body = message.body as { content?: Buffer } | Buffer | string;
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : (body.content?.toString('utf8') ?? '[]');
  return JSON.parse(text) as FeedbackRecordSeen[];
}

/** A C2D message for `deviceId` asking for full feedback; `body` is sent as one data section. */
export function c2dMessage(deviceId: string, messageId: string, body: Buffer): Message {
  return {
    to: `/devices/${encodeURIComponent(deviceId)}/messages/devicebound`,
    message_id: messageId,
    application_properties: { 'iothub-ack': 'full' },
    body: rhea.message.data_section(body),
  };
}
