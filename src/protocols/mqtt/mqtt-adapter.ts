import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Hub } from '../../core/hub.js';

export interface MqttAdapterOptions {
  hub: Hub;
  logger: Logger;
}

export interface MqttAdapter {
  /** Serves MQTT on a stream: a TLS socket after sniffing, or a WebSocket stream. */
  handle(stream: Duplex): void;
  close(): Promise<void>;
}

/** Placeholder until the MQTT adapter lands: closes the stream with a log line. */
export function createMqttAdapter(options: MqttAdapterOptions): MqttAdapter {
  return {
    handle(stream) {
      options.logger.info('closing an MQTT connection: MQTT is not served yet');
      stream.destroy();
    },
    async close() {},
  };
}
