import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEventHubAddress, type ParsedEventHubAddress } from '../../src/protocols/eventhub/event-hub-address.js';

const CASES: Array<[string, ParsedEventHubAddress | undefined]> = [
  ['$management', { kind: 'management' }],
  ['$MANAGEMENT', { kind: 'management' }],
  ['myhub/$management', { kind: 'management', entity: 'myhub' }],
  ['messages/events/$management', { kind: 'management', entity: 'messages/events' }],
  ['myhub/ConsumerGroups/$Default/Partitions/0', { kind: 'partition', entity: 'myhub', consumerGroup: '$Default', partition: '0' }],
  ['MyHub/consumergroups/Readers/partitions/12', { kind: 'partition', entity: 'MyHub', consumerGroup: 'Readers', partition: '12' }],
  ['messages/events/ConsumerGroups/$default/Partitions/3', { kind: 'partition', entity: 'messages/events', consumerGroup: '$default', partition: '3' }],
  ['/messages/events/ConsumerGroups/cg/Partitions/1', { kind: 'partition', entity: 'messages/events', consumerGroup: 'cg', partition: '1' }],
  ['amqps://localhost:5671/myhub/ConsumerGroups/cg/Partitions/1', { kind: 'partition', entity: 'myhub', consumerGroup: 'cg', partition: '1' }],
  ['amqps://hub.example/$management', { kind: 'management' }],
  ['myhub/ConsumerGroups/cg/Partitions/1/', { kind: 'partition', entity: 'myhub', consumerGroup: 'cg', partition: '1' }],
  ['$cbs', undefined],
  ['myhub', undefined],
  ['myhub/Partitions/0', undefined],
  ['myhub/ConsumerGroups/cg/Partitions', undefined],
  ['myhub/ConsumerGroups//Partitions/0', undefined],
  ['/devices/dev1/messages/events', undefined],
  ['ConsumerGroups/cg/Partitions/0', undefined],
  ['', undefined],
];

describe('Event Hub link addresses', () => {
  for (const [address, expected] of CASES) {
    test(`"${address}"`, () => assert.deepEqual(parseEventHubAddress(address), expected));
  }
});
