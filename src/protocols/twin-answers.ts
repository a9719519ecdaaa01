import { HubError, isHubError } from '../domain/errors.js';

/**
 * What the MQTT and AMQP twin adapters share: reading a device's reported-properties patch, and the answer to a
 * request that failed. The Node SDK reads the error code from the JSON body, not from the status.
 */
export function reportedPatchOf(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new HubError('ArgumentInvalid', 'The reported properties patch is not valid JSON');
  }
}

export function twinFailure(err: unknown): { status: number; body: { errorCode: number; message: string } } {
  return {
    status: isHubError(err) ? err.status : 500,
    body: { errorCode: isHubError(err) ? err.numericCode : 500001, message: err instanceof Error ? err.message : String(err) },
  };
}
