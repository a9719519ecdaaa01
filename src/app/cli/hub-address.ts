import { isIP } from 'node:net';
import type { HubSettings } from '../data-dir.js';

/** The HostName clients put in connection strings: the hub's name, with `:port` when HTTPS is not on 443. */
export function connectionHostName(settings: HubSettings): string {
  return settings.ports.https === 443 ? settings.hostname : `${settings.hostname}:${settings.ports.https}`;
}

/** Where a local tool dials the hub: the bind address when it is a specific one, else localhost. */
export function localDialAddress(settings: HubSettings): string {
  const bind = settings.bind;
  if (bind === undefined || bind === '::' || bind === '0.0.0.0') return 'localhost';
  return bind;
}

/** SNI carries names only. */
export function serverNameFor(hostname: string): string | undefined {
  return isIP(hostname) === 0 ? hostname : undefined;
}
