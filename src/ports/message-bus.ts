/**
 * What must reach the node that holds a device's connection (or a back end's link): "a C2D message is waiting for
 * this device", "feedback is waiting". Notifications carry no data a receiver could not read from storage again, so
 * a lost one costs latency, never a message: receivers also look on their own now and then.
 *
 * Subjects are opaque strings compared exactly. `publish` never throws; delivery to subscribers is asynchronous.
 */
export interface MessageBus {
  publish(subject: string): void;
  /** Calls `handler` for every publish on `subject` until the returned function is called. */
  subscribe(subject: string, handler: () => void): () => void;
  close(): Promise<void>;
}
