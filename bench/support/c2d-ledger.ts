import type { FeedbackRecordSeen } from './c2d-service-client.js';

/** What one slice of messages (a benchmark phase) amounted to. */
export interface LedgerSummary {
  /** Messages in the slice that reached a device (first deliveries). */
  delivered: number;
  /** ... of which before `windowEnd`. */
  deliveredInWindow: number;
  /** Send to device receive, ms, sorted. */
  latencies: number[];
  /** Feedback records for messages in the slice. */
  feedback: number;
  /** ... of which arrived before `windowEnd`. */
  feedbackInWindow: number;
  /** Records whose status was not Success. */
  feedbackNotSuccess: number;
  /** Device receive (≈ PUBACK) to feedback record arrival, ms, sorted. */
  feedbackLags: number[];
}

const HEADER_BYTES = 12;

/**
 * Every message the benchmark sends, by sequence number: when it was sent, when a device got it, when its feedback
 * record came back. Bodies carry the send time (float64, performance.now()) and the sequence number (uint32); the
 * message id is the sequence number, which feedback records give back as originalMessageId.
 */
export class C2dLedger {
  private readonly deliveredAt: number[] = [];
  private readonly latency: number[] = [];
  private readonly feedbackAt: number[] = [];
  private readonly feedbackStatus: string[] = [];
  private duplicateCount = 0;
  private unknownFeedback = 0;
  /** Totals over all slices, for waiting until everything is in. */
  deliveredTotal = 0;
  feedbackTotal = 0;
  nextSeq = 0;

  constructor(private readonly bodyBytes: number) {}

  /** The next message's sequence number and body, stamped now. */
  nextBody(): { seq: number; body: Buffer } {
    const seq = this.nextSeq++;
    const body = Buffer.alloc(Math.max(HEADER_BYTES, this.bodyBytes), 0x61);
    body.writeDoubleLE(performance.now(), 0);
    body.writeUInt32LE(seq, 8);
    return { seq, body };
  }

  delivered(payload: Buffer, receivedAt: number): void {
    if (payload.length < HEADER_BYTES) return;
    const seq = payload.readUInt32LE(8);
    if (this.deliveredAt[seq] !== undefined) {
      this.duplicateCount++;
      return;
    }
    this.deliveredAt[seq] = receivedAt;
    this.latency[seq] = receivedAt - payload.readDoubleLE(0);
    this.deliveredTotal++;
  }

  feedback(records: readonly FeedbackRecordSeen[], arrivedAt: number): void {
    for (const r of records) {
      const seq = Number(r.originalMessageId);
      if (!Number.isInteger(seq) || seq < 0 || seq >= this.nextSeq || this.feedbackAt[seq] !== undefined) {
        this.unknownFeedback++;
        continue;
      }
      this.feedbackAt[seq] = arrivedAt;
      this.feedbackStatus[seq] = r.statusCode;
      this.feedbackTotal++;
    }
  }

  /** Feedback records that named no message sent, or one already reported. */
  get strayFeedback(): number {
    return this.unknownFeedback;
  }

  get duplicates(): number {
    return this.duplicateCount;
  }

  /** Messages with sequence numbers from..to-1; `windowEnd` (performance.now() time) splits off the drain. */
  summary(from: number, to: number, windowEnd: number): LedgerSummary {
    const s: LedgerSummary = { delivered: 0, deliveredInWindow: 0, latencies: [], feedback: 0, feedbackInWindow: 0, feedbackNotSuccess: 0, feedbackLags: [] };
    for (let seq = from; seq < to; seq++) {
      const deliveredAt = this.deliveredAt[seq];
      if (deliveredAt !== undefined) {
        s.delivered++;
        if (deliveredAt <= windowEnd) s.deliveredInWindow++;
        s.latencies.push(this.latency[seq]!);
      }
      const feedbackAt = this.feedbackAt[seq];
      if (feedbackAt !== undefined) {
        s.feedback++;
        if (feedbackAt <= windowEnd) s.feedbackInWindow++;
        if (this.feedbackStatus[seq] !== 'Success') s.feedbackNotSuccess++;
        if (deliveredAt !== undefined) s.feedbackLags.push(feedbackAt - deliveredAt);
      }
    }
    s.latencies.sort((a, b) => a - b);
    s.feedbackLags.sort((a, b) => a - b);
    return s;
  }
}
