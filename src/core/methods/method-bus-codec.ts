import { ERROR_CATALOGUE, HubError, isHubError, type ErrorName } from '../../domain/errors.js';
import type { MethodRequest, MethodResponse } from '../../domain/method.js';

/**
 * Method calls and answers as they cross the bus, so that the node holding the device need not be the one that took
 * the call: a 4-byte length, a JSON header, then the payload bytes untouched (no escaping of up to 128 KiB).
 * An answer is the device's status and body, or the error that ended the call on the device's side.
 */

interface RequestHeader {
  requestId: string;
  methodName: string;
  timeoutMs: number;
}

type ReplyHeader = { status: number } | { error: { code: ErrorName; message: string } };

export function encodeMethodRequest(request: MethodRequest): Buffer {
  const header: RequestHeader = { requestId: request.requestId, methodName: request.methodName, timeoutMs: request.timeoutMs };
  return frame(header, request.payload);
}

export function decodeMethodRequest(bytes: Buffer): MethodRequest {
  const { header, body } = unframe<RequestHeader>(bytes);
  return { ...header, payload: body };
}

export function encodeMethodResponse(response: MethodResponse): Buffer {
  return frame({ status: response.status } satisfies ReplyHeader, response.payload);
}

/** What ended a call on the device's side; anything but a HubError is the hub's fault and goes as ServerError. */
export function encodeMethodFailure(err: unknown): Buffer {
  const error = isHubError(err) ? { code: err.errorCode, message: err.message } : { code: 'ServerError' as const, message: 'The hub failed to deliver the method call' };
  return frame({ error } satisfies ReplyHeader, Buffer.alloc(0));
}

/** The device's answer, or throws the HubError that ended the call. */
export function decodeMethodReply(bytes: Buffer): MethodResponse {
  const { header, body } = unframe<ReplyHeader>(bytes);
  if ('error' in header) {
    // A node of another version may name an error this one does not know.
    const code = header.error.code in ERROR_CATALOGUE ? header.error.code : 'ServerError';
    throw new HubError(code, header.error.message);
  }
  return { status: header.status, payload: body };
}

function frame(header: object, body: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json, body]);
}

function unframe<H>(bytes: Buffer): { header: H; body: Buffer } {
  const length = bytes.readUInt32BE(0);
  return { header: JSON.parse(bytes.toString('utf8', 4, 4 + length)) as H, body: bytes.subarray(4 + length) };
}
