/** A device-side client the `lazuli send` command uses: one connection, messages sent one after another. */
export interface DeviceSender {
  /** Resolves when the hub acknowledged the message (PUBACK, accepted, 204). */
  send(body: Buffer, properties: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

export interface DeviceEndpoint {
  /** Address to dial. */
  host: string;
  port: number;
  /** The hub's host name: TLS server name, token audience, MQTT user name. */
  hostname: string;
  ca: string;
  deviceId: string;
  /** A device SAS token. */
  token: string;
}
