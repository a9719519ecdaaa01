import { Agent, request } from 'node:https';
import type { DeviceEndpoint, DeviceSender } from './device-sender.js';

/** The device HTTPS API: one POST per message, answered 204. */
export function httpsSender(endpoint: DeviceEndpoint): DeviceSender {
  const agent = new Agent({ keepAlive: true, ca: endpoint.ca, ...(endpoint.hostname ? { servername: endpoint.hostname } : {}) });
  const path = `/devices/${encodeURIComponent(endpoint.deviceId)}/messages/events?api-version=2021-04-12`;
  return {
    send(body, properties) {
      const headers: Record<string, string> = { authorization: endpoint.token, host: endpoint.hostname, 'content-length': String(body.length) };
      for (const [k, v] of Object.entries(properties)) headers[`iothub-app-${k}`] = v;
      return new Promise((resolve, reject) => {
        const req = request({ host: endpoint.host, port: endpoint.port, method: 'POST', path, headers, agent }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`the hub answered ${res.statusCode}: ${text}`))));
        });
        req.on('error', reject);
        req.end(body);
      });
    },
    async close() {
      agent.destroy();
    },
  };
}
