import { randomUUID } from 'node:crypto';
import { identityKey } from '../../domain/device-identity.js';
import { HubError } from '../../domain/errors.js';
import type { MethodRequest, MethodResponse, MethodResult, MethodTarget } from '../../domain/method.js';
import { BusNoResponder, BusTimeout, type MessageBus } from '../../ports/message-bus.js';
import type { RegistryStore } from '../../ports/registry-store.js';
import { decodeMethodReply, decodeMethodRequest, encodeMethodFailure, encodeMethodRequest, encodeMethodResponse } from './method-bus-codec.js';
import { parseMethodCall } from './method-call-input.js';
import { ResponderWait } from './responder-wait.js';

/** Where calls for the target go: served by whichever connection of the device subscribed to methods last. */
export function methodCallSubject(target: MethodTarget): string {
  return `methods.call.${identityKey(target.deviceId, target.moduleId)}`;
}

/** Published when a connection starts serving the target, so calls waiting for the device to connect go at once. */
function methodReadySubject(target: MethodTarget): string {
  return `methods.ready.${identityKey(target.deviceId, target.moduleId)}`;
}

export type MethodHandler = (request: MethodRequest) => Promise<MethodResponse>;

/**
 * Direct methods, whatever protocol the device speaks: a back end's call goes over the bus to the connection
 * serving the device, which sends it on and resolves the device's answer. The call fails with DeviceNotOnline when
 * nobody serves the device within the connect timeout, and with GatewayTimeout when the answer takes longer than
 * the response timeout.
 */
export class MethodService {
  constructor(
    private readonly registry: RegistryStore,
    private readonly bus: MessageBus,
    private readonly now: () => number,
  ) {}

  /**
   * Calls a method on a device or module. `body` is the REST body: methodName, payload, responseTimeoutInSeconds,
   * connectTimeoutInSeconds. Errors: ArgumentInvalid, MessageTooLarge, DeviceNotFound, ModuleNotFound,
   * DeviceNotOnline, GatewayTimeout.
   */
  async invoke(target: MethodTarget, body: unknown): Promise<MethodResult> {
    const call = parseMethodCall(body);
    const timeoutMs = call.responseTimeoutInSeconds * 1000;
    const request = encodeMethodRequest({ requestId: randomUUID(), methodName: call.methodName, payload: Buffer.from(call.payloadJson, 'utf8'), timeoutMs });
    const reply = await this.request(target, request, timeoutMs, this.now() + call.connectTimeoutInSeconds * 1000);
    const response = decodeMethodReply(reply);
    return { status: response.status, payloadJson: payloadJsonOf(response.payload) };
  }

  /**
   * Serves the target's calls from a device connection until the returned function is called. A newer serve for
   * the same target takes over (the device's newest connection answers).
   */
  serve(target: MethodTarget, handler: MethodHandler): () => void {
    const stop = this.bus.serve(methodCallSubject(target), async (payload) => {
      try {
        return encodeMethodResponse(await handler(decodeMethodRequest(payload)));
      } catch (err) {
        return encodeMethodFailure(err);
      }
    });
    this.bus.publish(methodReadySubject(target));
    return stop;
  }

  /** Sends the call, waiting until `connectDeadline` for someone to serve the target. */
  private async request(target: MethodTarget, request: Buffer, timeoutMs: number, connectDeadline: number): Promise<Buffer> {
    let wait: ResponderWait | undefined;
    let checked = false;
    try {
      for (;;) {
        try {
          return await this.bus.request(methodCallSubject(target), request, timeoutMs);
        } catch (err) {
          if (err instanceof BusTimeout) throw new HubError('GatewayTimeout', 'Timed out waiting for the response from device.');
          if (!(err instanceof BusNoResponder)) throw err;
        }
        // Only a registered identity can serve calls, so the registry is read only when nobody did: an unknown
        // device fails at once with DeviceNotFound instead of waiting out the connect timeout. (The read was 15% of
        // a call to a connected device.)
        if (!checked) {
          await this.requireTarget(target);
          checked = true;
        }
        const left = connectDeadline - this.now();
        if (left <= 0) throw new HubError('DeviceNotOnline', 'Timed out waiting for device to connect.');
        wait ??= new ResponderWait(this.bus, methodReadySubject(target));
        await wait.next(left);
      }
    } finally {
      wait?.stop();
    }
  }

  private async requireTarget(target: MethodTarget): Promise<void> {
    if (target.moduleId !== undefined && (await this.registry.getModule(target.deviceId, target.moduleId))) return;
    if (!(await this.registry.getDevice(target.deviceId))) throw new HubError('DeviceNotFound', `Device ${target.deviceId} is not registered`);
    if (target.moduleId !== undefined) throw new HubError('ModuleNotFound', `Module ${target.moduleId} is not registered on device ${target.deviceId}`);
  }
}

/**
 * The device's body as the JSON of the result's payload: null when empty, otherwise its bytes as they are, as IoT
 * Hub splices them (a device answering with something other than JSON breaks the caller's parse there too).
 */
function payloadJsonOf(body: Buffer): string {
  const text = body.toString('utf8');
  return text.trim() === '' ? 'null' : text;
}
