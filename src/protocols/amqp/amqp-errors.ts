import type { AmqpError } from 'rhea';
import { isHubError, type ErrorName } from '../../domain/errors.js';

/**
 * AMQP error conditions the Azure SDKs translate (azure-iot-amqp-base `amqp_common_errors.js`, core-amqp
 * `errors.js`). Every error also carries Azure's numeric code, which clients log.
 */
const CONDITION_BY_ERROR: Partial<Record<ErrorName, string>> = {
  MessageTooLarge: 'amqp:link:message-size-exceeded',
  IotHubUnauthorizedAccess: 'amqp:unauthorized-access',
  IotHubUnauthorized: 'amqp:unauthorized-access',
  DeviceDisabled: 'amqp:unauthorized-access',
  DeviceNotFound: 'amqp:not-found',
  ModuleNotFound: 'amqp:not-found',
  NotFound: 'amqp:not-found',
  DeviceAlreadyExists: 'com.microsoft:device-already-exists',
  PreconditionFailed: 'com.microsoft:precondition-failed',
  DeviceMaximumQueueDepthExceeded: 'amqp:resource-limit-exceeded',
  DeviceMessageLockLost: 'com.microsoft:message-lock-lost',
  ThrottlingException: 'com.microsoft:device-container-throttled',
  ServiceUnavailable: 'com.microsoft:timeout',
  ServerError: 'amqp:internal-error',
};

export function amqpErrorOf(err: unknown): AmqpError {
  if (!isHubError(err)) return { condition: 'amqp:internal-error', description: 'The hub failed to process the request' };
  const condition = CONDITION_BY_ERROR[err.errorCode] ?? (err.status < 500 ? 'com.microsoft:argument-error' : 'amqp:internal-error');
  return { condition, description: err.message, info: { 'com.microsoft:error-code': err.numericCode } };
}
