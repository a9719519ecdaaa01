import type { Authentication, DeviceStatus } from '../../domain/identity.js';
import { isValidIdentityId } from '../../domain/identity.js';
import { invalid, isObject, parseAuthentication } from './authentication-input.js';

/** The writable fields of a device, checked. Read-only fields of the body (etag, generationId, ...) are ignored. */
export interface DeviceInput {
  deviceId: string;
  status: DeviceStatus;
  statusReason: string | null;
  authentication: Authentication;
  capabilities: { iotEdge: boolean };
  deviceScope: string | null;
  parentScopes: string[];
}

export interface ModuleInput {
  deviceId: string;
  moduleId: string;
  managedBy: string | null;
  authentication: Authentication;
}

export function requireValidId(id: string, what: 'deviceId' | 'moduleId'): void {
  if (!isValidIdentityId(id as unknown)) {
    invalid(`${what} "${String(id).slice(0, 140)}" is invalid: up to 128 characters from A-Z a-z 0-9 - . + % _ # * ? ! ( ) , = @ $ ' : ;`);
  }
}

/** Reads a device body; `pathId` is the id in the URL, which the body must not contradict. */
export function parseDeviceInput(body: unknown, pathId?: string): DeviceInput {
  if (!isObject(body)) invalid('the request body must be a JSON object describing a device');
  const deviceId = body.deviceId ?? pathId;
  if (typeof deviceId !== 'string') invalid('deviceId is required');
  if (pathId !== undefined && deviceId !== pathId) invalid(`deviceId "${deviceId}" in the body differs from "${pathId}" in the path`);
  requireValidId(deviceId, 'deviceId');

  const status = body.status ?? 'enabled';
  if (status !== 'enabled' && status !== 'disabled') invalid('status must be "enabled" or "disabled"');
  const statusReason = optionalText(body.statusReason, 'statusReason', 128);
  const capabilities = body.capabilities;
  if (capabilities !== undefined && capabilities !== null && !isObject(capabilities)) invalid('capabilities must be an object');
  const iotEdge = capabilities?.iotEdge ?? false;
  if (typeof iotEdge !== 'boolean') invalid('capabilities.iotEdge must be a boolean');
  const parentScopes = body.parentScopes ?? [];
  if (!Array.isArray(parentScopes) || !parentScopes.every((s) => typeof s === 'string')) {
    invalid('parentScopes must be an array of strings');
  }
  return {
    deviceId,
    status,
    statusReason,
    authentication: parseAuthentication(body.authentication),
    capabilities: { iotEdge },
    deviceScope: optionalText(body.deviceScope, 'deviceScope', 512),
    parentScopes: parentScopes as string[],
  };
}

export function parseModuleInput(body: unknown, pathDeviceId: string, pathModuleId: string): ModuleInput {
  if (!isObject(body)) invalid('the request body must be a JSON object describing a module');
  const deviceId = body.deviceId ?? pathDeviceId;
  const moduleId = body.moduleId ?? pathModuleId;
  if (deviceId !== pathDeviceId) invalid(`deviceId in the body differs from "${pathDeviceId}" in the path`);
  if (moduleId !== pathModuleId) invalid(`moduleId in the body differs from "${pathModuleId}" in the path`);
  requireValidId(pathDeviceId, 'deviceId');
  requireValidId(pathModuleId, 'moduleId');
  return {
    deviceId: pathDeviceId,
    moduleId: pathModuleId,
    managedBy: optionalText(body.managedBy, 'managedBy', 128),
    authentication: parseAuthentication(body.authentication),
  };
}

function optionalText(v: unknown, name: string, max: number): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > max) invalid(`${name} must be a string of at most ${max} characters`);
  return v;
}
