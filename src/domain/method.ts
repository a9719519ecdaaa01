/**
 * Direct methods as IoT Hub defines them: a back end calls a named method on one connected device (or module) and
 * waits for its answer, a status and a JSON payload of the device's choosing.
 */

/** Whom a method call is for: a device, or one of its modules. */
export interface MethodTarget {
  deviceId: string;
  moduleId?: string;
}

/** A call as the back end asked for it, checked (MethodService.invoke reads it from the REST body). */
export interface MethodCall {
  methodName: string;
  /** The payload as JSON text, exactly what the device receives. */
  payloadJson: string;
  responseTimeoutInSeconds: number;
  connectTimeoutInSeconds: number;
}

/** What a device adapter hands to the device. */
export interface MethodRequest {
  /** Unique among calls; AMQP sends it as the correlation id (a UUID). */
  requestId: string;
  methodName: string;
  /** JSON text. */
  payload: Buffer;
  /** How long the caller waits for the answer; an adapter may forget the call after it. */
  timeoutMs: number;
}

/** The device's answer: its status and its body, as it sent them. */
export interface MethodResponse {
  status: number;
  payload: Buffer;
}

/** What the back end gets: the device's status, and its body as the JSON text of `payload` (`null` when empty). */
export interface MethodResult {
  status: number;
  payloadJson: string;
}

/** Azure's limits (IoT Hub quotas: direct methods). */
export const METHOD_LIMITS = {
  maxPayloadBytes: 128 * 1024,
  responseTimeoutSeconds: { min: 5, max: 300, default: 30 },
  connectTimeoutSeconds: { min: 0, max: 300, default: 0 },
} as const;
