import { parseArgs } from 'node:util';
import { ListenError } from '../../protocols/listener/tls-listener.js';
import { buildHub } from '../build-hub.js';
import { resolveStartConfig, START_FLAGS, type StartConfig, type StartFlag } from '../config.js';
import { createLogger } from '../logger.js';
import { CliError } from './cli-error.js';


export async function startCommand(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const options = Object.fromEntries(Object.keys(START_FLAGS).map((f) => [f, { type: 'string' as const }]));
  const { values } = parseArgs({ args, options, strict: true });
  const config = resolveStartConfig(values as Partial<Record<StartFlag, string>>, env);
  const logger = createLogger(config.logLevel);

  let running;
  try {
    running = await buildHub(config, logger);
  } catch (err) {
    if (err instanceof ListenError) throw new CliError(listenAdvice(err, config));
    throw err;
  }
  const { settings } = running;
  logger.info({ hub: settings.name, hostname: settings.hostname, ports: settings.ports, dataDir: config.dataDir }, 'hub ready');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      running.stop().then(
        () => {
          logger.info('stopped');
          logger.flush();
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'failed to stop cleanly');
          logger.flush();
          resolve(1);
        },
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function listenAdvice(err: ListenError, config: StartConfig): string {
  const flags = (
    [
      ['--https-port', config.httpsPort],
      ['--mqtt-port', config.mqttPort],
      ['--amqp-port', config.amqpPort],
    ] as const
  )
    .filter(([, port]) => port === err.port)
    .map(([flag]) => flag);
  const why = err.code === 'EACCES' ? 'binding ports below 1024 needs privileges' : err.code === 'EADDRINUSE' ? 'another process uses it' : err.message;
  let text = `cannot listen on port ${err.port} (${err.code ?? 'error'}: ${why}). Choose another with ${flags.join(' or ')}.`;
  if (err.port === 443) {
    text += ` Note that Azure's HTTPS and WebSocket transports (the device HTTP transport, the service SDK's registry) expect 443.`;
  }
  return text;
}
