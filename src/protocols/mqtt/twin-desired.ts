import type { MqttConnection } from './mqtt-connection.js';
import { desiredPatchTopic } from './twin-topics.js';

/**
 * Desired-property changes to a connection subscribed to `$iothub/twin/PATCH/properties/desired/#`: each patch as
 * applied, with its `$version` in the body, at QoS 0 as IoT Hub sends them. A device that was offline reads the full
 * twin (GET) and only then hears later patches.
 */
export class TwinDesiredNotifications {
  #unwatch: (() => void) | undefined;

  constructor(private readonly connection: MqttConnection) {}

  /** Starts if the connection holds the subscription; does nothing otherwise or when already started. */
  start(): void {
    const { connection } = this;
    const identity = connection.identity;
    if (this.#unwatch || connection.closed || identity === undefined || !connection.session?.has('twinDesired')) return;
    const target = identity.moduleId === undefined ? { deviceId: identity.deviceId } : { deviceId: identity.deviceId, moduleId: identity.moduleId };
    this.#unwatch = connection.ctx.hub.twins.watchDesired(target, ({ patch, version }) => {
      const payload = Buffer.from(JSON.stringify({ ...patch, $version: version }));
      connection.write({ cmd: 'publish', topic: desiredPatchTopic(version), payload, qos: 0, dup: false, retain: false });
    });
  }

  stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }
}
