import type { AmqpError, EventContext, Message } from 'rhea';
import type { FeedbackRecord } from '../../domain/c2d.js';
import type { AmqpClient } from './amqp-client.js';
import { CliError } from './cli-error.js';
import { describeAmqpError } from './service-amqp.js';

const FEEDBACK = '/messages/serviceBound/feedback';

export interface FeedbackTail {
  /** Resolves once `limit` records were printed or after stop(); rejects when the link or connection fails. */
  done: Promise<void>;
  stop(): void;
}

/**
 * Receives feedback messages as `azure-iothub` Client.getFeedbackReceiver does and prints their records. A message
 * is accepted (removed from the hub) once all its records are printed; one cut short by the limit is released, so
 * the records not printed stay for the next reader.
 */
export function tailFeedback(client: AmqpClient, limit: number, print: (record: FeedbackRecord) => void): FeedbackTail {
  let printed = 0;
  // One message at a time: the hub locks what it sends, and a reader about to stop should hold no more than it prints.
  const receiver = client.connection.open_receiver({ source: { address: FEEDBACK }, autoaccept: false, credit_window: 1 });
  let finish: (err?: Error) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    let finished = false;
    finish = (err) => {
      if (finished) return;
      finished = true;
      if (err) return reject(err);
      // Detached before the connection closes: the hub gives back what it locked for a link only when the link detaches.
      const detached = new Promise((r) => receiver.once('receiver_close', r));
      receiver.close();
      void Promise.race([detached, client.lost.catch(() => undefined)]).then(() => resolve());
    };
  });
  receiver.on('message', (ctx: EventContext) => {
    const delivery = ctx.delivery!;
    if (printed >= limit) return delivery.release();
    let records: FeedbackRecord[];
    try {
      records = recordsOf(ctx.message!);
    } catch (err) {
      delivery.release();
      return finish(new CliError(`a feedback message is not a JSON array of records: ${(err as Error).message}`));
    }
    const shown = records.slice(0, limit - printed);
    for (const record of shown) print(record);
    printed += shown.length;
    if (shown.length === records.length) delivery.accept();
    else delivery.release();
    if (printed >= limit) finish();
  });
  receiver.once('receiver_error', (ctx: EventContext) =>
    finish(new CliError(`the hub refused the ${FEEDBACK} link: ${describeAmqpError(ctx.receiver?.error as AmqpError | undefined)}`)),
  );
  client.lost.catch((err: Error) => finish(new CliError(err.message)));
  return { done, stop: () => finish() };
}

function recordsOf(message: Message): FeedbackRecord[] {
  const records: unknown = JSON.parse(bodyBytes(message.body).toString('utf8'));
  if (!Array.isArray(records)) throw new Error(`got ${typeof records}`);
  return records as FeedbackRecord[];
}

/** A data section (what the hub sends) or an amqp-value holding binary or text. */
function bodyBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (typeof body === 'object' && body !== null && 'content' in body) return bodyBytes(body.content);
  return Buffer.alloc(0);
}
