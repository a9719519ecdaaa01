import type { AmqpError, EventContext, Message } from 'rhea';
import type { AmqpClient } from './amqp-client.js';
import { CliError } from './cli-error.js';
import { describeAmqpError } from './service-amqp.js';

const DEVICEBOUND = '/messages/devicebound';

/** Who a cloud-to-device message is for. */
export interface C2dRecipient {
  deviceId: string;
  moduleId?: string;
}

/** The `to` a back end writes, ids percent-encoded as the service SDK does. */
export function deviceboundTo({ deviceId, moduleId }: C2dRecipient): string {
  const device = `/devices/${encodeURIComponent(deviceId)}`;
  return moduleId === undefined ? `${device}/messages/devicebound` : `${device}/modules/${encodeURIComponent(moduleId)}/messages/devicebound`;
}

/**
 * Sends one message on `/messages/devicebound`, as `azure-iothub` Client.send does, and resolves once the hub accepts
 * it (it is queued). A rejection, a refused link or a lost connection becomes a CliError in Azure's terms.
 */
export async function sendC2dMessage(client: AmqpClient, message: Message): Promise<void> {
  const sender = client.connection.open_sender({ target: { address: DEVICEBOUND } });
  const refused = new Promise<never>((_, reject) =>
    sender.once('sender_error', (ctx: EventContext) => reject(new CliError(`the hub refused the ${DEVICEBOUND} link: ${describeAmqpError(ctx.sender?.error as AmqpError | undefined)}`))),
  );
  refused.catch(() => undefined);
  await Promise.race([new Promise((resolve) => sender.once('sendable', resolve)), refused, client.lost]);

  const delivery = sender.send(message);
  const settled = new Promise<void>((resolve, reject) => {
    const onSettled = (ctx: EventContext) => {
      if (ctx.delivery !== delivery) return;
      sender.removeListener('settled', onSettled);
      const state = delivery.remote_state as { error?: AmqpError; constructor: { composite_type?: string } } | undefined;
      const outcome = state?.constructor.composite_type;
      if (outcome === 'accepted') resolve();
      else if (outcome === 'rejected') reject(new CliError(`the hub rejected the message: ${describeAmqpError(state?.error)}`));
      else reject(new CliError(`the hub did not take the message (${outcome ?? 'no outcome'})`));
    };
    sender.on('settled', onSettled);
  });
  await Promise.race([settled, refused, client.lost]);
}
