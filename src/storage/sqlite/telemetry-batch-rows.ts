/**
 * How a row of telemetry_batches holds its events: consecutive events of one partition that share the enqueued time
 * and the partition key. A one-event row's payload is the event's payload and its layout NULL; a longer row's payload
 * is the payloads concatenated and its layout their lengths, as little-endian uint32, 4 bytes per event.
 */

/** Rows stay small enough that a reader asking for a few events never loads a large blob. */
export const MAX_ROW_EVENTS = 256;
export const MAX_ROW_BYTES = 256 * 1024;

export interface EncodedRow {
  payload: Buffer;
  layout: Buffer | null;
}

export function encodeRow(payloads: readonly Buffer[]): EncodedRow {
  if (payloads.length === 1) return { payload: payloads[0]!, layout: null };
  const layout = Buffer.allocUnsafe(4 * payloads.length);
  payloads.forEach((p, i) => layout.writeUInt32LE(p.length, 4 * i));
  return { payload: Buffer.concat(payloads), layout };
}

/** The payloads of `count` events from the row's `skip`-th on: views of the row's payload, not copies. */
export function sliceRow(row: EncodedRow, skip: number, count: number): Buffer[] {
  const { payload, layout } = row;
  if (layout === null) return skip === 0 && count > 0 ? [payload] : [];
  const end = Math.min(skip + count, layout.length / 4);
  let start = 0;
  for (let i = 0; i < skip; i++) start += layout.readUInt32LE(4 * i);
  const events: Buffer[] = [];
  for (let i = skip; i < end; i++) {
    const length = layout.readUInt32LE(4 * i);
    events.push(payload.subarray(start, start + length));
    start += length;
  }
  return events;
}

/** The payload length of each of the row's events. */
export function eventLengths(row: EncodedRow): number[] {
  const { payload, layout } = row;
  if (layout === null) return [payload.length];
  return Array.from({ length: layout.length / 4 }, (_, i) => layout.readUInt32LE(4 * i));
}

/** The events of one row while a batch is being written: `accepts` says whether the next event may join it. */
export class RowBuilder {
  readonly payloads: Buffer[] = [];
  #bytes = 0;

  constructor(
    readonly firstSequence: number,
    readonly partitionKey: string | null,
  ) {}

  accepts(payload: Buffer, partitionKey: string | null): boolean {
    return (
      partitionKey === this.partitionKey &&
      this.payloads.length < MAX_ROW_EVENTS &&
      (this.payloads.length === 0 || this.#bytes + payload.length <= MAX_ROW_BYTES)
    );
  }

  add(payload: Buffer): void {
    this.payloads.push(payload);
    this.#bytes += payload.length;
  }

  get lastSequence(): number {
    return this.firstSequence + this.payloads.length - 1;
  }
}
