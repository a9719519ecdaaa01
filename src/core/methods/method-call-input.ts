import { HubError } from '../../domain/errors.js';
import { METHOD_LIMITS, type MethodCall } from '../../domain/method.js';
import { invalid, isObject } from '../registry/authentication-input.js';

/**
 * IoT Hub's rule for what a device may be called by: printable US-ASCII without `$ ( ) < > @ , ; : \ " / [ ] ? = { }`
 * and without space or tab (the direct methods guide). It also keeps the name whole in the MQTT request topic.
 */
const METHOD_NAME = /^[!#%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Azure documents no limit; this one keeps a request topic far below MQTT's 64 KiB. */
const MAX_METHOD_NAME_LENGTH = 1024;

/** Reads the body of `POST /twins/{id}/methods` as Azure does: ArgumentInvalid for what it refuses, 413 above 128 KiB. */
export function parseMethodCall(body: unknown): MethodCall {
  if (!isObject(body)) invalid('the request body must be a JSON object with methodName, payload, responseTimeoutInSeconds and connectTimeoutInSeconds');
  const { methodName } = body;
  if (typeof methodName !== 'string' || methodName === '') invalid('methodName is required');
  if (methodName.length > MAX_METHOD_NAME_LENGTH) invalid(`methodName is longer than ${MAX_METHOD_NAME_LENGTH} characters`);
  if (!METHOD_NAME.test(methodName)) {
    invalid(`methodName "${methodName.slice(0, 140)}" is invalid: printable US-ASCII only, without spaces nor any of $ ( ) < > @ , ; : \\ " / [ ] ? = { }`);
  }
  const payloadJson = JSON.stringify(body.payload ?? null);
  const size = Buffer.byteLength(payloadJson);
  if (size > METHOD_LIMITS.maxPayloadBytes) {
    throw new HubError('MessageTooLarge', `The method payload is ${size} bytes; direct methods take at most ${METHOD_LIMITS.maxPayloadBytes}`);
  }
  return {
    methodName,
    payloadJson,
    responseTimeoutInSeconds: seconds(body.responseTimeoutInSeconds, 'responseTimeoutInSeconds', METHOD_LIMITS.responseTimeoutSeconds),
    connectTimeoutInSeconds: seconds(body.connectTimeoutInSeconds, 'connectTimeoutInSeconds', METHOD_LIMITS.connectTimeoutSeconds),
  };
}

function seconds(value: unknown, name: string, range: { min: number; max: number; default: number }): number {
  if (value === undefined || value === null) return range.default;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
    invalid(`${name} must be a whole number of seconds from ${range.min} to ${range.max}, not ${JSON.stringify(value)}`);
  }
  return value;
}
