import type { HubMessage } from '../../domain/message.js';
import { decodeMessage } from '../../domain/message-codec.js';
import type { LogEvent, PartitionInfo, StartPosition, TelemetryLog } from '../../ports/telemetry-log.js';

export interface ReadEvent {
  event: LogEvent;
  message: HubMessage;
}

/** The read side of the telemetry log, for the Event Hub-compatible endpoint and the monitor. */
export class TelemetryReader {
  constructor(private readonly log: TelemetryLog) {}

  get partitionCount(): number {
    return this.log.partitionCount;
  }

  partitionIds(): string[] {
    return Array.from({ length: this.log.partitionCount }, (_, i) => String(i));
  }

  async read(partition: number, fromSequenceNumber: number, maxEvents: number): Promise<ReadEvent[]> {
    const events = await this.log.read(partition, fromSequenceNumber, maxEvents);
    return events.map((event) => ({ event, message: decodeMessage(event.payload) }));
  }

  resolveStart(partition: number, position: StartPosition): Promise<number> {
    return this.log.resolveStart(partition, position);
  }

  partitionInfo(partition: number): Promise<PartitionInfo> {
    return this.log.partitionInfo(partition);
  }

  onAppended(listener: (partition: number, lastSequenceNumber: number) => void): () => void {
    return this.log.onAppended(listener);
  }
}
