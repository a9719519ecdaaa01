import { createServer } from 'node:net';

/**
 * The Azure SDKs build URIs from the host name alone, so their suite needs the standard ports. Checked up front so
 * that a busy port fails with a message that says which and why, not with an SDK timeout.
 */
export const AZURE_SDK_PORTS = { https: 443, mqtt: 8883, amqp: 5671 } as const;

export async function assertAzurePortsFree(): Promise<void> {
  for (const [name, port] of Object.entries(AZURE_SDK_PORTS)) {
    const problem = await new Promise<string | undefined>((resolve) => {
      const server = createServer();
      server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
      server.listen({ port, host: '::', ipv6Only: false }, () => server.close(() => resolve(undefined)));
    });
    if (problem) {
      throw new Error(
        `The Azure SDK suite needs port ${port} (${name}) free, because the SDKs derive it from the host name; ` +
          `binding it failed with ${problem}. Stop whatever holds it (ss -ltnp 'sport = :${port}') or run as a user allowed to bind it.`,
      );
    }
  }
}

export const AZURE_SDK_START_ARGS = [
  '--https-port', String(AZURE_SDK_PORTS.https),
  '--mqtt-port', String(AZURE_SDK_PORTS.mqtt),
  '--amqp-port', String(AZURE_SDK_PORTS.amqp),
];
