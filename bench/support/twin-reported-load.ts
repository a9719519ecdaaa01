import type { TwinDevices } from './twin-devices.js';
import { qos0Publish, reportedPatchTopic, type TwinResponse } from './twin-mqtt-frames.js';

interface PendingPatch {
  device: number;
  sentAt: number;
}

/**
 * Reported-property updates from every device: each keeps `inflight` PATCH requests outstanding (each with its own
 * rid) and sends the next as soon as a 204 comes back, until stop(). Counts answers per device and their latency.
 */
export class ReportedPatchLoad {
  /** 204 answers per device. */
  readonly acked: Uint32Array;
  /** The highest reported `$version` a 204 carried, per device. */
  readonly lastVersion: Float64Array;
  /** The `seq` of the last patch each device sent. */
  readonly lastSeq: Float64Array;
  /** Request-to-204 latencies, ms (unsorted). */
  readonly latencies: number[] = [];
  /** Answers other than 204, and answers for no request sent, by what was wrong. */
  readonly errors = new Map<string, number>();
  /** 204s whose version did not exceed one the device had already seen. */
  versionsOutOfOrder = 0;
  /** 204s received by `windowEnd`. */
  ackedInWindow = 0;
  windowEnd = Infinity;
  readonly #pending = new Map<string, PendingPatch>();
  #nextRid = 0;
  #sending = false;

  constructor(
    devices: number,
    private readonly inflight: number,
  ) {
    this.acked = new Uint32Array(devices);
    this.lastVersion = new Float64Array(devices).fill(1);
    this.lastSeq = new Float64Array(devices).fill(-1);
  }

  get outstanding(): number {
    return this.#pending.size;
  }

  get ackedTotal(): number {
    return this.acked.reduce((a, b) => a + b, 0);
  }

  /** A patch as sent: about 100 bytes of JSON. */
  static body(seq: number): string {
    return `{"temp":${(20 + (seq % 100) / 10).toFixed(1)},"humidity":48.2,"firmware":"1.4.2","status":"ok","seq":${seq},"sentAt":${Date.now()}}`;
  }

  /** Every device sends its first `inflight` patches; the fleet's twin answers must come to onTwinResponse. */
  start(fleet: TwinDevices): void {
    this.#sending = true;
    for (let device = 0; device < this.acked.length; device++) {
      const packets: Buffer[] = [];
      for (let k = 0; k < this.inflight; k++) packets.push(this.#patch(device, performance.now()));
      fleet.send(device, packets);
    }
  }

  /** No more patches; those outstanding may still be answered. */
  stop(): void {
    this.#sending = false;
  }

  /** A twin answer a device received (TwinDevicesOptions.onTwinResponse). */
  onTwinResponse(device: number, response: TwinResponse, receivedAt: number, out: Buffer[]): void {
    const pending = response.rid === undefined ? undefined : this.#pending.get(response.rid);
    if (pending === undefined || pending.device !== device) return this.#error(`an answer (${response.status}) for no patch outstanding on its device`);
    this.#pending.delete(response.rid!);
    if (response.status !== 204) this.#error(`status ${response.status}`);
    else if (response.version === undefined || !Number.isInteger(response.version)) this.#error('204 without $version');
    else {
      this.acked[device]!++;
      if (receivedAt <= this.windowEnd) this.ackedInWindow++;
      this.latencies.push(receivedAt - pending.sentAt);
      if (response.version <= this.lastVersion[device]!) this.versionsOutOfOrder++;
      else this.lastVersion[device] = response.version;
    }
    if (this.#sending) out.push(this.#patch(device, performance.now()));
  }

  #patch(device: number, sentAt: number): Buffer {
    const seq = this.#nextRid++;
    const rid = String(seq);
    this.#pending.set(rid, { device, sentAt });
    this.lastSeq[device] = seq;
    return qos0Publish(reportedPatchTopic(rid), ReportedPatchLoad.body(seq));
  }

  #error(what: string): void {
    this.errors.set(what, (this.errors.get(what) ?? 0) + 1);
  }
}
