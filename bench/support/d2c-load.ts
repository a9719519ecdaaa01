import { runMqttLoad, type LoadDevice, type MqttLoadOptions, type MqttLoadResult } from '../../test/support/mqtt-load.js';

export interface D2cLoadOptions {
  seconds: number;
  bytes: number;
  inflight: number;
  payload?: MqttLoadOptions['payload'];
}

/** The same load for every target: devices publishing for `seconds` with `inflight` QoS 1 messages each. */
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
    ...(o.payload ? { payload: o.payload } : {}),
  });
}
