import assert from 'node:assert/strict';
import { test } from 'node:test';
import { feedbackRecordFor } from '../../src/domain/c2d.js';

test('a feedback record carries its own time as ISO text, however the text is cached', () => {
  const source = { messageId: 'm-1', deviceId: 'dev-1', generationId: 'g-1' };
  const times = [1_764_000_000_123, 1_764_000_000_123, 1_764_000_000_124, 0, 1_764_000_000_123];
  assert.deepEqual(
    times.map((t) => feedbackRecordFor(source, 'Success', t).enqueuedTimeUtc),
    times.map((t) => new Date(t).toISOString()),
  );
  assert.deepEqual(feedbackRecordFor({ ...source, messageId: undefined }, 'Rejected', 0), {
    originalMessageId: '',
    enqueuedTimeUtc: '1970-01-01T00:00:00.000Z',
    statusCode: 'Rejected',
    description: 'Message rejected',
    deviceId: 'dev-1',
    deviceGenerationId: 'g-1',
  });
});
