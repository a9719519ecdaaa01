/**
 * Calls `onIdle` once nothing arrived for the timeout. Time the hub spends on the connection's own work (`busy`,
 * e.g. while reading is paused for backpressure) does not count as the client's silence.
 */
export class KeepAlive {
  #last: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly now: () => number,
    private readonly busy: () => boolean,
  ) {
    this.#last = now();
  }

  start(timeoutMs: number, onIdle: () => void): void {
    this.stop();
    this.#last = this.now();
    const check = () => {
      if (this.busy()) this.#last = this.now();
      const idle = this.now() - this.#last;
      if (idle >= timeoutMs) onIdle();
      else this.#timer = setTimeout(check, timeoutMs - idle).unref();
    };
    this.#timer = setTimeout(check, timeoutMs).unref();
  }

  /** Something arrived from the client. */
  touch(): void {
    this.#last = this.now();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** [MQTT-3.1.2-24]: 1.5 times the client's keep-alive, capped as IoT Hub caps it (1767 s); 0 means none. */
export function keepAliveTimeoutMs(keepAliveSeconds: number, capMs: number): number | undefined {
  return keepAliveSeconds === 0 ? undefined : Math.min(keepAliveSeconds * 1500, capMs);
}
