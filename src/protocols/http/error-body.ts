import { randomBytes } from 'node:crypto';
import type { HubError } from '../../domain/errors.js';

/**
 * Azure's classic error body. The Node service SDK takes the error name from `Message` (text between the first `:`
 * and the first `;`) and the text after the `;` as the message, so the text itself must not contain `;`.
 */
export function azureErrorBody(err: HubError, now = new Date()): { Message: string; ExceptionMessage: string } {
  const text = err.message.replaceAll(';', ',');
  return {
    Message: `ErrorCode:${err.errorCode};${text}`,
    ExceptionMessage: `Tracking ID:${randomBytes(16).toString('hex')}-G:0-TimeStamp:${dotNetTimestamp(now)}`,
  };
}

/** `MM/dd/yyyy HH:mm:ss` in UTC, as Azure's tracking ids show it. */
function dotNetTimestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}
