import { Agent, request } from 'node:https';
import { readPolicies } from '../../src/app/data-dir.js';
import { createSasToken } from '../../src/domain/sas.js';
import type { HubProcess } from '../../test/support/hub-process.js';

const API_VERSION = '2021-04-12';
/** The policy a back end calling twins and methods needs (ServiceConnect), as Azure's `service` policy has. */
const POLICY = 'service';

export interface ServiceAnswer {
  status: number;
  body: string;
}

/**
 * A back end on the service REST API: HTTPS over at most `maxSockets` keep-alive connections, authorised with a SAS
 * token of the `service` policy.
 */
export class TwinServiceClient {
  readonly #agent: Agent;
  readonly #authorization: string;
  readonly #port: number;

  constructor(hub: HubProcess, maxSockets: number) {
    const policy = readPolicies(hub.dataDir)?.find((p) => p.name === POLICY);
    if (!policy) throw new Error(`the hub has no ${POLICY} policy`);
    this.#authorization = createSasToken({ resource: hub.settings.hostname, keyBase64: policy.primaryKey, keyName: policy.name, expiry: Date.now() / 1000 + 3600, encode: false });
    this.#agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, ca: hub.ca });
    this.#port = hub.settings.ports.https;
  }

  /** `GET /twins/{id}`. */
  getTwin(deviceId: string): Promise<ServiceAnswer> {
    return this.#call('GET', `/twins/${encodeURIComponent(deviceId)}?api-version=${API_VERSION}`);
  }

  /** `POST /twins/{id}/methods`: waits up to 30 s for the answer, and not at all for the device to connect. */
  invokeMethod(deviceId: string, methodName: string, payloadJson: string): Promise<ServiceAnswer> {
    const body = `{"methodName":${JSON.stringify(methodName)},"payload":${payloadJson},"responseTimeoutInSeconds":30,"connectTimeoutInSeconds":0}`;
    return this.#call('POST', `/twins/${encodeURIComponent(deviceId)}/methods?api-version=${API_VERSION}`, body);
  }

  close(): void {
    this.#agent.destroy();
  }

  #call(method: string, path: string, body?: string): Promise<ServiceAnswer> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { authorization: this.#authorization };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const req = request({ host: '127.0.0.1', servername: 'localhost', port: this.#port, method, path, agent: this.#agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}
