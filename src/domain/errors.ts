/**
 * The error catalogue: every error the hub reports carries one of Azure IoT Hub's error names, its numeric code
 * and the HTTP status Azure answers with. Adapters map a HubError to their protocol's own form.
 */
export const ERROR_CATALOGUE = {
  ArgumentInvalid: { code: 400004, status: 400 },
  ArgumentNull: { code: 400005, status: 400 },
  IotHubFormatError: { code: 400006, status: 400 },
  DeviceDefinedMultipleTimes: { code: 400011, status: 400 },
  BulkRegistryOperationFailure: { code: 400013, status: 400 },
  IotHubUnauthorizedAccess: { code: 401002, status: 401 },
  IotHubUnauthorized: { code: 401003, status: 401 },
  DeviceMaximumQueueDepthExceeded: { code: 403004, status: 403 },
  DeviceDisabled: { code: 403012, status: 403 },
  DeviceNotFound: { code: 404001, status: 404 },
  ModuleNotFound: { code: 404010, status: 404 },
  NotFound: { code: 404000, status: 404 },
  MethodNotAllowed: { code: 405000, status: 405 },
  DeviceAlreadyExists: { code: 409001, status: 409 },
  ModuleAlreadyExistsOnDevice: { code: 409301, status: 409 },
  PreconditionFailed: { code: 412001, status: 412 },
  DeviceMessageLockLost: { code: 412002, status: 412 },
  MessageTooLarge: { code: 413001, status: 413 },
  TooManyDevices: { code: 413002, status: 413 },
  UnsupportedMediaType: { code: 415000, status: 415 },
  ThrottlingException: { code: 429001, status: 429 },
  ServerError: { code: 500001, status: 500 },
  ServiceUnavailable: { code: 503001, status: 503 },
  DeviceNotOnline: { code: 404103, status: 404 },
  GatewayTimeout: { code: 504101, status: 504 },
} as const;

export type ErrorName = keyof typeof ERROR_CATALOGUE;

export class HubError extends Error {
  readonly errorCode: ErrorName;
  readonly numericCode: number;
  readonly status: number;

  constructor(errorCode: ErrorName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HubError';
    this.errorCode = errorCode;
    this.numericCode = ERROR_CATALOGUE[errorCode].code;
    this.status = ERROR_CATALOGUE[errorCode].status;
  }
}

export function isHubError(err: unknown, name?: ErrorName): err is HubError {
  return err instanceof HubError && (name === undefined || err.errorCode === name);
}
