import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

import type { LogLevel } from './config.js';

/** JSON lines for machines; pretty, synchronous output when a person watches the terminal. */
export function createLogger(level: LogLevel, stream: NodeJS.WritableStream = process.stdout): Logger {
  const isTerminal = (stream as { isTTY?: boolean }).isTTY === true;
  if (isTerminal) return pino({ level }, pretty({ sync: true, destination: stream as NodeJS.WritableStream & { fd?: number } }));
  return pino({ level, base: { pid: process.pid } }, stream === process.stdout ? pino.destination({ fd: 1, sync: false }) : stream);
}
