import { runMqttLoad, type LoadDevice, type MqttLoadOptions, type MqttLoadResult } from '../../test/support/mqtt-load.js';

export interface D2cLoadOptions {
  seconds: number;
  bytes: number;
  inflight: number;
  /** Messages/s over all devices; without it, as fast as PUBACKs allow. */
  rate?: number | undefined;
  payload?: MqttLoadOptions['payload'];
}

/** The same load for every target: devices publishing for `seconds` with `inflight` QoS 1 messages each, paced to `rate` if given. */
export function timedLoad(port: number, ca: string, devices: LoadDevice[], o: D2cLoadOptions): Promise<MqttLoadResult> {
  return runMqttLoad({
    host: '127.0.0.1',
    port,
    ca,
    servername: 'localhost',
    devices,
    messagesPerDevice: Number.MAX_SAFE_INTEGER,
    maxDurationMs: o.seconds * 1000,
    payloadBytes: o.bytes,
    inflightPerDevice: o.inflight,
    ...(o.rate === undefined ? {} : { ratePerDevice: o.rate / devices.length }),
    ...(o.payload ? { payload: o.payload } : {}),
  });
}
