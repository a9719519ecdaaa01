import type { AmqpError } from 'rhea';
import type { LinkAddress } from './link-address.js';

/**
 * Links the SDKs open for features this hub does not serve over AMQP yet. They are refused with
 * `amqp:not-implemented` (the Node SDKs' NotImplementedError) and a description that says which feature.
 */
export function notServedYet(address: LinkAddress, clientReceives: boolean): AmqpError | undefined {
  const feature = featureOf(address, clientReceives);
  return feature === undefined ? undefined : { condition: 'amqp:not-implemented', description: `${feature} are not served over AMQP yet` };
}

function featureOf(address: LinkAddress, clientReceives: boolean): string | undefined {
  if (address.kind === 'service') return address.feature === 'file notifications' ? 'Service file notifications links' : undefined;
  if (address.kind !== 'device') return undefined;
  switch (address.link) {
    case 'events':
      return clientReceives && address.moduleId !== undefined ? 'Module input messages' : undefined;
    case 'devicebound':
    case 'methods':
    case 'twin':
      return undefined;
  }
}
