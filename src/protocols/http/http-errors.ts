import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { HubError, isHubError } from '../../domain/errors.js';
import { azureErrorBody } from './error-body.js';

/** Maps anything a route or Fastify itself throws to Azure's status, error name and body. */
export function toHubError(err: unknown): HubError {
  if (isHubError(err)) return err;
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HubError('MessageTooLarge', 'The request body is larger than this endpoint accepts');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HubError('IotHubFormatError', `The request body is not valid JSON: ${fe.message ?? ''}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HubError('UnsupportedMediaType', 'The request body must be application/json');
  }
  if (err instanceof SyntaxError) return new HubError('IotHubFormatError', `The request body is not valid JSON: ${err.message}`);
  if (fe.validation) return new HubError('ArgumentInvalid', fe.message ?? 'The request is invalid');
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new HubError('ArgumentInvalid', fe.message ?? 'The request is invalid');
  }
  return new HubError('ServerError', 'The hub failed to process the request', { cause: err });
}

export function sendHubError(reply: FastifyReply, err: HubError): FastifyReply {
  return reply
    .code(err.status)
    .header('iothub-errorcode', err.errorCode)
    .header('content-type', 'application/json; charset=utf-8')
    .send(azureErrorBody(err));
}

/** Answers every failure with Azure's error and logs it: refusals at info, the hub's own faults at error. */
export function httpErrorHandler(logger: Logger) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const hubError = toHubError(err);
    const fields = { method: request.method, url: request.url.split('?')[0], status: hubError.status, errorCode: hubError.errorCode };
    if (hubError.status >= 500) logger.error({ ...fields, err }, 'request failed');
    else logger.info({ ...fields, reason: hubError.message }, 'request refused');
    return sendHubError(reply, hubError);
  };
}
