import { HubError } from '../../domain/errors.js';
import type { MethodResponse } from '../../domain/method.js';

interface Pending {
  resolve(response: MethodResponse): void;
  reject(err: HubError): void;
  timer: NodeJS.Timeout;
}

/**
 * The calls one device connection (or AMQP link pair) has sent and not yet had answered, by the id the device
 * echoes ($rid on MQTT, the correlation id on AMQP). A call is forgotten once answered, timed out or failed, so a
 * late or unknown answer finds nothing.
 */
export class PendingMethodCalls {
  readonly #calls = new Map<string, Pending>();

  /** Resolves with the device's answer; rejects with GatewayTimeout when none comes within `timeoutMs`. */
  add(id: string, timeoutMs: number): Promise<MethodResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id);
        reject(new HubError('GatewayTimeout', 'Timed out waiting for the response from device.'));
      }, timeoutMs);
      timer.unref();
      this.#calls.set(id, { resolve, reject, timer });
    });
  }

  /** The device answered; false when no call waits under that id. */
  answer(id: string, response: MethodResponse): boolean {
    const call = this.#calls.get(id);
    if (!call) return false;
    this.#calls.delete(id);
    clearTimeout(call.timer);
    call.resolve(response);
    return true;
  }

  /** The device cannot answer any more (its connection or link closed): every call waiting fails with `reason`. */
  failAll(reason: string): void {
    for (const call of this.#calls.values()) {
      clearTimeout(call.timer);
      call.reject(new HubError('GatewayTimeout', reason));
    }
    this.#calls.clear();
  }
}
