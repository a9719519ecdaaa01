import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { createSasToken } from '../../domain/sas.js';
import { OWNER_POLICY } from '../../domain/permissions.js';
import { readPolicies, requireSettings, type HubSettings } from '../data-dir.js';
import { CliError } from './cli-error.js';
import { localDialAddress, serverNameFor } from './hub-address.js';

export interface RestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** Talks to a running hub's service REST API as the owner policy, trusting the data dir's CA. */
export class HubRestClient {
  readonly settings: HubSettings;
  private readonly ca: string;
  private readonly key: string;

  constructor(private readonly dataDir: string) {
    this.settings = requireSettings(dataDir);
    this.ca = readFileSync(join(dataDir, 'ca.pem'), 'utf8');
    const owner = readPolicies(dataDir)?.find((p) => p.name === OWNER_POLICY);
    if (!owner) throw new CliError(`no ${OWNER_POLICY} policy in ${dataDir}`);
    this.key = owner.primaryKey;
  }

  /** Sends one request; a status of 300 or more becomes a CliError carrying Azure's error code and message. */
  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RestResponse> {
    const response = await this.send(method, path, body, headers);
    if (response.status >= 300) throw new CliError(describeError(response));
    return response;
  }

  private send(method: string, path: string, body: unknown, headers: Record<string, string>): Promise<RestResponse> {
    const { hostname, ports } = this.settings;
    const token = createSasToken({ resource: hostname, keyBase64: this.key, keyName: OWNER_POLICY, expiry: Date.now() / 1000 + 3600, encode: false });
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const servername = serverNameFor(hostname);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: localDialAddress(this.settings),
          port: ports.https,
          ...(servername === undefined ? {} : { servername }),
          ca: this.ca,
          method,
          path: `${path}${path.includes('?') ? '&' : '?'}api-version=2021-04-12`,
          headers: {
            host: hostname,
            authorization: token,
            ...(payload ? { 'content-type': 'application/json; charset=utf-8', 'content-length': String(payload.length) } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            if (text && String(res.headers['content-type']).includes('application/json')) {
              try {
                parsed = JSON.parse(text);
              } catch {
                // A direct method's payload is the device's bytes as it sent them, JSON or not.
              }
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') {
          reject(new CliError(`no hub answers on port ${ports.https}: is "lazuli start --data-dir ${this.dataDir}" running?`));
        } else reject(new CliError(`cannot reach the hub: ${err.message}`));
      });
      req.end(payload);
    });
  }
}

function describeError(response: RestResponse): string {
  const message = (response.body as { Message?: string } | undefined)?.Message;
  const match = typeof message === 'string' ? /^ErrorCode:([^;]*);(.*)$/s.exec(message) : null;
  return match ? `${match[1]} (${response.status}): ${match[2]}` : `the hub answered ${response.status}`;
}
