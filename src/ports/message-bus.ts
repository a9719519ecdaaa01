/**
 * What must reach the node that holds a device's connection (or a back end's link), and the way back:
 * - notifications ("a C2D message is waiting for this device", "feedback is waiting"), which carry no data a receiver
 *   could not read from storage again, so a lost one costs latency, never a message: receivers also look on their
 *   own now and then;
 * - requests with one reply (a direct method call to the node holding the device).
 *
 * Subjects are opaque strings compared exactly. `publish` never throws; delivery to subscribers is asynchronous.
 */
export interface MessageBus {
  /** `payload`, when given, reaches every subscriber (a desired-property patch, say). */
  publish(subject: string, payload?: Buffer): void;
  /** Calls `handler` for every publish on `subject` until the returned function is called. */
  subscribe(subject: string, handler: (payload?: Buffer) => void): () => void;
  /**
   * Sends `payload` to the responder serving `subject` and resolves its reply. Rejects with BusNoResponder at once
   * when nobody serves the subject, and with BusTimeout when the reply takes longer than `timeoutMs`.
   */
  request(subject: string, payload: Buffer, timeoutMs: number): Promise<Buffer>;
  /**
   * Answers requests on `subject` until the returned function is called. One responder per subject: a new one
   * replaces the previous (a device's newer connection takes over its method calls).
   */
  serve(subject: string, handler: (payload: Buffer) => Promise<Buffer>): () => void;
  close(): Promise<void>;
}

export class BusNoResponder extends Error {
  override name = 'BusNoResponder';
}

export class BusTimeout extends Error {
  override name = 'BusTimeout';
}
