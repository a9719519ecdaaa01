import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { ConsumerGroupService } from '../../src/core/eventhub/consumer-group-service.js';
import { isHubError, type ErrorName } from '../../src/domain/errors.js';
import { MemoryConsumerGroupStore } from '../../src/storage/memory/memory-consumer-group-store.js';

let now: number;
let service: ConsumerGroupService;
beforeEach(() => {
  now = Date.parse('2025-03-04T05:06:07.000Z');
  service = new ConsumerGroupService(new MemoryConsumerGroupStore(), { now: () => now, maxGroups: 4, defaultCreatedAt: '2025-01-01T00:00:00.000Z' });
});

async function rejectsWith(promise: Promise<unknown>, name: ErrorName, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => isHubError(err, name) && message.test(err.message));
}

describe('consumer groups', () => {
  test('$Default always exists, in any case, and lists first', async () => {
    assert.equal(await service.exists('$Default'), true);
    assert.equal(await service.exists('$default'), true);
    assert.deepEqual(await service.list(), [{ name: '$Default', createdAt: '2025-01-01T00:00:00.000Z' }]);
    assert.deepEqual(await service.get('$DEFAULT'), { name: '$Default', createdAt: '2025-01-01T00:00:00.000Z' });
  });

  test('create, get, list by name, delete', async () => {
    assert.deepEqual(await service.create('zeta'), { group: { name: 'zeta', createdAt: '2025-03-04T05:06:07.000Z' }, created: true });
    now += 1000;
    await service.create('Alpha.1');
    assert.deepEqual((await service.list()).map((g) => g.name), ['$Default', 'Alpha.1', 'zeta']);
    assert.deepEqual(await service.get('ALPHA.1'), { name: 'Alpha.1', createdAt: '2025-03-04T05:06:08.000Z' });
    assert.equal(await service.exists('alpha.1'), true);
    await service.delete('ZETA');
    assert.equal(await service.exists('zeta'), false);
    await rejectsWith(service.get('zeta'), 'NotFound', /"zeta" does not exist/);
  });

  test('creating an existing group again returns it unchanged', async () => {
    await service.create('readers');
    now += 5000;
    assert.deepEqual(await service.create('READERS'), { group: { name: 'readers', createdAt: '2025-03-04T05:06:07.000Z' }, created: false });
    assert.equal((await service.list()).length, 2);
  });

  test('$Default cannot be created or deleted', async () => {
    await rejectsWith(service.create('$Default'), 'ArgumentInvalid', /built in/);
    await rejectsWith(service.create('$default'), 'ArgumentInvalid', /built in/);
    await rejectsWith(service.delete('$Default'), 'ArgumentInvalid', /built in/);
  });

  test('deleting a group that does not exist is NotFound', async () => {
    await rejectsWith(service.delete('ghost'), 'NotFound', /"ghost"/);
  });

  const valid = ['a', '0', 'A-b_c.d', 'x'.repeat(50), 'Readers2'];
  const invalid = ['', '-lead', '.lead', '_lead', 'x'.repeat(51), 'has space', 'slash/no', '$other', 'ünï', 'semi;colon'];
  for (const name of valid) {
    test(`"${name.length > 12 ? `${name.length} chars` : name}" is a valid name`, async () => {
      service = new ConsumerGroupService(new MemoryConsumerGroupStore());
      assert.equal((await service.create(name)).created, true);
    });
  }
  for (const name of invalid) {
    test(`"${name.length > 12 ? `${name.length} chars` : name}" is not a valid name`, async () => {
      await rejectsWith(service.create(name), 'ArgumentInvalid', /not a valid consumer group name|built in/);
      assert.equal(await service.exists(name), false);
    });
  }

  test('the group limit counts $Default', async () => {
    await service.create('g1');
    await service.create('g2');
    await service.create('g3');
    await rejectsWith(service.create('g4'), 'ArgumentInvalid', /most consumer groups it allows \(4, \$Default included\)/);
    await service.delete('g1');
    assert.equal((await service.create('g4')).created, true);
  });
});
