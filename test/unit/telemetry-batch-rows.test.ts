import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRow, eventLengths, MAX_ROW_BYTES, MAX_ROW_EVENTS, RowBuilder, sliceRow } from '../../src/storage/sqlite/telemetry-batch-rows.js';

const buffers = (...texts: string[]) => texts.map((t) => Buffer.from(t));
const texts = (payloads: Buffer[]) => payloads.map((p) => p.toString());

test('a one-event row is the payload itself, without a layout', () => {
  const payload = Buffer.from('only');
  const row = encodeRow([payload]);
  assert.equal(row.payload, payload);
  assert.equal(row.layout, null);
  assert.deepEqual(eventLengths(row), [4]);
  assert.deepEqual(texts(sliceRow(row, 0, 10)), ['only']);
  assert.deepEqual(sliceRow(row, 1, 10), []);
  assert.deepEqual(sliceRow(row, 0, 0), []);
});

test('a longer row concatenates the payloads and lists their lengths as little-endian uint32', () => {
  const row = encodeRow(buffers('ab', '', 'cde', 'f'));
  assert.equal(row.payload.toString(), 'abcdef');
  assert.deepEqual(row.layout, Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0]));
  assert.deepEqual(eventLengths(row), [2, 0, 3, 1]);
});

test('slicing skips and counts events exactly, and returns views of the row, not copies', () => {
  const row = encodeRow(buffers('ab', '', 'cde', 'f'));
  assert.deepEqual(texts(sliceRow(row, 0, 4)), ['ab', '', 'cde', 'f']);
  assert.deepEqual(texts(sliceRow(row, 0, 99)), ['ab', '', 'cde', 'f']);
  assert.deepEqual(texts(sliceRow(row, 1, 2)), ['', 'cde']);
  assert.deepEqual(texts(sliceRow(row, 2, 1)), ['cde']);
  assert.deepEqual(texts(sliceRow(row, 3, 5)), ['f']);
  assert.deepEqual(sliceRow(row, 4, 5), []);
  assert.deepEqual(sliceRow(row, 1, 0), []);
  assert.equal(sliceRow(row, 2, 1)[0]!.buffer, row.payload.buffer);
});

test('binary payloads round-trip byte for byte', () => {
  const payloads = [Buffer.from([0, 255, 0]), Buffer.alloc(70_000, 7), Buffer.alloc(0), Buffer.from(Array.from({ length: 256 }, (_, i) => i))];
  const row = encodeRow(payloads);
  assert.deepEqual(sliceRow(row, 0, payloads.length), payloads);
});

test('a row takes events with its partition key only, up to MAX_ROW_EVENTS', () => {
  const row = new RowBuilder(10, null);
  const one = Buffer.from('x');
  assert.equal(row.accepts(one, 'key'), false);
  assert.equal(row.accepts(one, ''), false, 'the empty key is a key');
  for (let i = 0; i < MAX_ROW_EVENTS; i++) {
    assert.equal(row.accepts(one, null), true);
    row.add(one);
  }
  assert.equal(row.accepts(one, null), false);
  assert.equal(row.lastSequence, 10 + MAX_ROW_EVENTS - 1);
  assert.equal(new RowBuilder(0, 'k').accepts(one, 'k'), true);
});

test('a row holds up to MAX_ROW_BYTES of payload, or a single larger event', () => {
  const row = new RowBuilder(0, null);
  const big = Buffer.alloc(MAX_ROW_BYTES + 1);
  assert.equal(row.accepts(big, null), true, 'an empty row takes any event');
  const half = Buffer.alloc(MAX_ROW_BYTES / 2);
  row.add(half);
  assert.equal(row.accepts(half, null), true);
  row.add(half);
  assert.equal(row.accepts(Buffer.alloc(1), null), false);
  assert.equal(row.accepts(Buffer.alloc(0), null), true, 'an empty payload adds no bytes');
});
