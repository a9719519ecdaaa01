import type { Logger } from 'pino';
import rhea, { type Delivery, type Message, type Sender } from 'rhea';
import type { TwinService } from '../../core/twins/twin-service.js';
import { isHubError } from '../../domain/errors.js';
import type { TwinTarget } from '../../domain/twin.js';
import { bodyBytesOf, type AmqpMessage } from './amqp-to-hub-message.js';
import { reportedPatchOf, twinFailure } from '../twin-answers.js';

const DESIRED_RESOURCE = '/notifications/twin/properties/desired';
const REPORTED_RESOURCE = '/properties/reported';

/**
 * One device's twin over AMQP (protocol doc §3.4): requests arrive on the device's sender link to
 * `/devices/{id}/twin` (annotations `operation` and `resource`), answers and desired-property notifications go out
 * on its receiver link with the same channel correlation id. Answers carry the request's correlation id as a string,
 * `status` as an int and `version` as a long; notifications carry no correlation id.
 */
export class TwinChannel {
  private sender: Sender | undefined;
  /** Answers made before the device's receiver link was attached. */
  private pending: Message[] = [];
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly twins: TwinService,
    private readonly target: TwinTarget,
    private readonly log: Logger,
  ) {}

  attachSender(sender: Sender): void {
    this.sender = sender;
    for (const message of this.pending.splice(0)) sender.send(message);
  }

  detachSender(): void {
    this.sender = undefined;
    this.stopNotifications();
  }

  close(): void {
    this.sender = undefined;
    this.pending = [];
    this.stopNotifications();
  }

  onRequest(delivery: Delivery, request: AmqpMessage): void {
    if (!delivery.remote_settled) delivery.accept();
    const annotations = request.message_annotations ?? {};
    const operation = String(annotations.operation ?? '').toUpperCase();
    const resource = String(annotations.resource ?? '');
    const correlationId = request.correlation_id === undefined ? undefined : String(request.correlation_id);
    this.serve(operation, resource, request).then(
      ({ status, version, body }) => this.answer(correlationId, status, version, body),
      (err: unknown) => {
        if (!isHubError(err)) this.log.error({ err, operation, resource }, 'an AMQP twin request failed in the hub');
        const { status, body } = twinFailure(err);
        this.answer(correlationId, status, undefined, body);
      },
    );
  }

  private async serve(operation: string, resource: string, request: AmqpMessage): Promise<{ status: number; version?: number; body?: unknown }> {
    if (operation === 'GET') {
      const twin = await this.twins.deviceTwin(this.target);
      return { status: 200, version: Number(twin.desired.$version), body: twin };
    }
    if (operation === 'PATCH' && resource === REPORTED_RESOURCE) {
      return { status: 204, version: await this.twins.updateReported(this.target, reportedPatchOf(bodyBytesOf(request.body))) };
    }
    if (operation === 'PUT' && resource === DESIRED_RESOURCE) {
      this.startNotifications();
      return { status: 200 };
    }
    if (operation === 'DELETE' && resource === DESIRED_RESOURCE) {
      this.stopNotifications();
      return { status: 200 };
    }
    return { status: 400, body: { errorCode: 400004, message: `Twin operation ${operation} ${resource} is not supported` } };
  }

  private startNotifications(): void {
    this.unwatch ??= this.twins.watchDesired(this.target, ({ patch, version }) => {
      this.send({
        body: rhea.message.data_section(Buffer.from(JSON.stringify({ ...patch, $version: version }))),
        message_annotations: { version: rhea.types.wrap_long(version) },
      });
    });
  }

  private stopNotifications(): void {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  private answer(correlationId: string | undefined, status: number, version: number | undefined, body: unknown): void {
    const annotations: Record<string, unknown> = { status: rhea.types.wrap_int(status) };
    if (version !== undefined) annotations.version = rhea.types.wrap_long(version);
    const message = { message_annotations: annotations } as Message;
    if (correlationId !== undefined) message.correlation_id = correlationId;
    if (body !== undefined) message.body = rhea.message.data_section(Buffer.from(JSON.stringify(body)));
    this.send(message);
  }

  private send(message: Message): void {
    if (this.sender) this.sender.send(message);
    else this.pending.push(message);
  }
}
