import type { Logger } from 'pino';
import type { AmqpError, Message, Sender } from 'rhea';
import type { ConsumerGroupService } from '../../core/eventhub/consumer-group-service.js';
import { isDefaultConsumerGroup } from '../../core/eventhub/consumer-group-name.js';
import type { Hub } from '../../core/hub.js';
import type { StartPosition } from '../../ports/telemetry-log.js';
import { parseEventHubAddress } from './event-hub-address.js';
import { echoTermini, isLinkAlive, offerCapabilities, refuseAttach, setSettleMode, SETTLE_MODE } from './link-state.js';
import { answerManagementRequest, type ManagementContext } from './management-request.js';
import { PartitionPump } from './partition-pump.js';
import { ReceiverOwnership, type OwnedReceiver } from './receiver-ownership.js';
import { desiresCapability, epochOf, ReceiverPropertyError, RUNTIME_METRIC_CAPABILITY } from './receiver-properties.js';
import { parseSelectorFilter, selectorFilterOf, SelectorFilterError } from './selector-filter.js';

export type EventHubAddress = { kind: 'management' } | { kind: 'partition'; consumerGroup: string; partition: string };

/** What the endpoint needs of the consumer groups. */
export type ConsumerGroupLookup = Pick<ConsumerGroupService, 'exists'>;

/** IoT Hub's documented name for the built-in endpoint's entity, accepted beside the hub name. */
export const BUILT_IN_ENTITY = 'messages/events';

export interface EventHubEndpointOptions {
  hub: Hub & { consumerGroups?: ConsumerGroupLookup };
  logger: Logger;
  /** Overrides `hub.consumerGroups`; with neither, only `$Default` exists. */
  consumerGroups?: ConsumerGroupLookup;
  /** The hub's creation time (ms since the epoch) that READ `com.microsoft:eventhub` reports. Default: now. */
  createdAt?: number;
  /** Events read from the log at a time for one receiver. Default 256. */
  readBatch?: number;
  /** Non-epoch receivers allowed per partition and consumer group. Default 5, as Event Hubs. */
  maxNonEpochReceivers?: number;
  now?: () => number;
}

/**
 * The Event Hub-compatible read side served on the AMQP port: `$management` READs and partition receivers.
 * The AMQP adapter owns connections, sessions and CBS; it hands this endpoint the links it authorised. The endpoint
 * only observes a partition link's events: they still reach the adapter's handlers. A receiver whose connection
 * dropped is noticed when its partition next grows or another receiver attaches to it, or at close().
 */
export class EventHubEndpoint {
  readonly #pumps = new Map<number, Set<PartitionPump>>();
  readonly #ownership: ReceiverOwnership;
  readonly #management: ManagementContext;
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(private readonly options: EventHubEndpointOptions) {
    const { hub } = options;
    this.#ownership = new ReceiverOwnership(options.maxNonEpochReceivers);
    this.#management = {
      name: hub.info.name,
      isEntity: (name) => this.#isEntity(name),
      createdAt: options.createdAt ?? (options.hub.info.createdAt ? Date.parse(options.hub.info.createdAt) : (options.now ?? Date.now)()),
      reader: hub.telemetryReader,
    };
    this.#unsubscribe = hub.telemetryReader.onAppended((partition) => {
      for (const pump of this.#pumps.get(partition) ?? []) pump.wake();
    });
  }

  /**
   * Parses a link address with any `amqps://host[:port]/` prefix already removed: `{hub}/$management`,
   * `$management`, `{hub}/ConsumerGroups/{group}/Partitions/{id}` or `messages/events/ConsumerGroups/...`
   * (case-insensitive). Undefined when the address is not the endpoint's, including another entity's.
   */
  parseAddress(address: string): EventHubAddress | undefined {
    const parsed = parseEventHubAddress(address);
    if (!parsed || (parsed.entity !== undefined && !this.#isEntity(parsed.entity))) return undefined;
    if (parsed.kind === 'management') return { kind: 'management' };
    return { kind: 'partition', consumerGroup: parsed.consumerGroup, partition: parsed.partition };
  }

  /**
   * Serves a client's partition receiver on our sender link, called from the adapter's 'sender_open' handler
   * (before rhea writes the reply attach). Refuses it with a link error when it must: `com.microsoft:argument-out-of-range`
   * for an unknown partition, `com.microsoft:argument-error` for a bad filter or epoch, `amqp:not-found` for an
   * unknown consumer group, `amqp:link:stolen` / `amqp:resource-limit-exceeded` by the epoch rules.
   */
  openPartitionSender(link: Sender, address: { consumerGroup: string; partition: string }): void {
    echoTermini(link);
    const where = `${this.options.hub.info.name}/ConsumerGroups/${address.consumerGroup}/Partitions/${address.partition}`;
    const ids = this.options.hub.telemetryReader.partitionIds();
    if (this.#closed) return this.#refuse(link, where, { condition: 'amqp:link:detach-forced', description: 'The hub is shutting down' }, true);
    if (!ids.includes(address.partition)) {
      return this.#refuse(link, where, { condition: 'com.microsoft:argument-out-of-range', description: `The partition "${address.partition}" does not exist: ${this.options.hub.info.name} has partitions ${ids.join(', ')}` }, true);
    }
    let position: StartPosition;
    let epoch: number | undefined;
    try {
      position = parseSelectorFilter(selectorFilterOf(link.source));
      epoch = epochOf(link);
    } catch (err) {
      if (!(err instanceof SelectorFilterError || err instanceof ReceiverPropertyError)) throw err;
      return this.#refuse(link, where, { condition: 'com.microsoft:argument-error', description: err.message }, true);
    }
    const runtimeMetric = desiresCapability(link, RUNTIME_METRIC_CAPABILITY);
    if (runtimeMetric) offerCapabilities(link, [RUNTIME_METRIC_CAPABILITY]);
    // Send settled unless the receiver asked for unsettled deliveries; Event Hubs clients accept either.
    const requested = link.snd_settle_mode;
    const presettle = requested !== SETTLE_MODE.unsettled;
    setSettleMode(link, requested === SETTLE_MODE.settled ? SETTLE_MODE.settled : presettle ? SETTLE_MODE.mixed : SETTLE_MODE.unsettled);

    this.#start(link, where, address, { position, epoch, runtimeMetric, presettle }).catch((err: unknown) => {
      this.options.logger.error({ err, address: where }, 'event hub receiver failed to start');
      if (link.is_open()) link.close({ condition: 'amqp:internal-error', description: 'The hub failed to open the receiver' });
    });
  }

  /** Answers one `$management` request; the adapter sends the reply to the request's reply-to. */
  async handleManagementRequest(request: Message): Promise<Message> {
    return answerManagementRequest(request, this.#management);
  }

  /** Detaches every partition receiver (`amqp:link:detach-forced`, which clients retry) and stops listening. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    for (const pumps of this.#pumps.values()) {
      for (const pump of pumps) pump.stop({ condition: 'amqp:link:detach-forced', description: 'The hub is shutting down' });
    }
    this.#pumps.clear();
  }

  async #start(
    link: Sender,
    where: string,
    address: { consumerGroup: string; partition: string },
    request: { position: StartPosition; epoch: number | undefined; runtimeMetric: boolean; presettle: boolean },
  ): Promise<void> {
    const { hub, logger } = this.options;
    if (!(await this.#consumerGroupExists(address.consumerGroup))) {
      return this.#refuse(link, where, { condition: 'amqp:not-found', description: `The consumer group "${address.consumerGroup}" does not exist on ${hub.info.name}` });
    }
    if (this.#closed || !isLinkAlive(link)) return;

    let pump: PartitionPump | undefined;
    const receiver: OwnedReceiver = {
      epoch: request.epoch,
      isAlive: () => (pump ? pump.isAlive() : isLinkAlive(link)),
      evict: (error) => {
        logger.info({ address: where, epoch: request.epoch, reason: error.description }, 'event hub receiver evicted');
        if (pump) pump.stop(error);
        else link.close(error);
      },
    };
    const admission = this.#ownership.admit(address.consumerGroup, address.partition, receiver);
    if (!admission.admitted) return this.#refuse(link, where, admission.error);

    const partition = Number(address.partition);
    let from: number;
    try {
      from = await hub.telemetryReader.resolveStart(partition, request.position);
    } catch (err) {
      admission.release();
      if (!(err instanceof RangeError)) throw err;
      return this.#refuse(link, where, { condition: 'com.microsoft:argument-error', description: `The start position is not valid for this partition: ${err.message}` });
    }
    if (this.#closed || !isLinkAlive(link)) return admission.release();

    const pumps = this.#pumps.get(partition) ?? new Set<PartitionPump>();
    this.#pumps.set(partition, pumps);
    const started = new PartitionPump({
      link,
      reader: hub.telemetryReader,
      partition,
      from,
      presettle: request.presettle,
      runtimeMetric: request.runtimeMetric,
      readBatch: this.options.readBatch ?? 256,
      logger,
      now: this.options.now ?? Date.now,
      onStop: () => {
        admission.release();
        pumps.delete(started);
        logger.debug({ address: where }, 'event hub receiver stopped');
      },
    });
    pump = started;
    pumps.add(started);
    logger.debug({ address: where, from, epoch: request.epoch }, 'event hub receiver started');
    started.wake();
  }

  async #consumerGroupExists(name: string): Promise<boolean> {
    const groups = this.options.consumerGroups ?? this.options.hub.consumerGroups;
    return groups ? groups.exists(name) : isDefaultConsumerGroup(name);
  }

  #isEntity(name: string): boolean {
    const lower = name.toLowerCase();
    return lower === this.options.hub.info.name.toLowerCase() || lower === BUILT_IN_ENTITY;
  }

  /** Refuses a receiver: with a null source when still inside the open handler, else by detaching it. */
  #refuse(link: Sender, where: string, error: AmqpError, attaching = false): void {
    this.options.logger.info({ address: where, condition: error.condition, reason: error.description }, 'event hub receiver refused');
    if (attaching) refuseAttach(link, error);
    else if (link.is_open()) link.close(error);
  }
}
