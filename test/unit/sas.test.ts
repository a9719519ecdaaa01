import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { computeSignature, createSasToken, encodeResource, parseSasToken, SasFormatError, signatureMatches } from '../../src/domain/sas.js';

const KEY = Buffer.alloc(32, 1).toString('base64');
const OTHER = Buffer.alloc(32, 2).toString('base64');

describe('SAS tokens', () => {
  test('parses fields in any order, case-insensitive names, with skn before se as Node sends it', () => {
    const t = parseSasToken('SharedAccessSignature sr=hub.example%2Fdevices%2Fd1&sig=abc%2B%3D&SKN=owner&se=1700000000');
    assert.equal(t.rawResource, 'hub.example%2Fdevices%2Fd1');
    assert.equal(t.resource, 'hub.example/devices/d1');
    assert.equal(t.signature, 'abc+=');
    assert.equal(t.keyName, 'owner');
    assert.equal(t.expiry, 1700000000);
    assert.equal(t.rawExpiry, '1700000000');
  });

  const malformed: Array<[string, string]> = [
    ['no prefix', 'sr=a&sig=b&se=1'],
    ['wrong prefix', 'SharedAccessKey sr=a&sig=b&se=1'],
    ['missing sig', 'SharedAccessSignature sr=a&se=1'],
    ['missing se', 'SharedAccessSignature sr=a&sig=b'],
    ['non-numeric se', 'SharedAccessSignature sr=a&sig=b&se=tomorrow'],
    ['field without =', 'SharedAccessSignature sr=a&sig=b&se=1&junk'],
    ['duplicate field', 'SharedAccessSignature sr=a&sr=b&sig=b&se=1'],
    ['bad percent-encoding', 'SharedAccessSignature sr=%E0%A4%A&sig=b&se=1'],
    ['empty', ''],
  ];
  for (const [name, text] of malformed) {
    test(`rejects a token with ${name}`, () => assert.throws(() => parseSasToken(text), SasFormatError));
  }

  test('the signature covers sr exactly as it appears in the token, then a newline and se', () => {
    // Lower-case escapes (C SDK) and upper-case escapes (Node) are different strings to sign.
    for (const sr of ['hub%2fdevices%2fd1', 'hub%2Fdevices%2Fd1']) {
      const expected = createHmac('sha256', Buffer.from(KEY, 'base64')).update(`${sr}\n123`).digest('base64');
      assert.equal(computeSignature(sr, '123', KEY), expected);
      const token = parseSasToken(`SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(expected)}&se=123`);
      assert.ok(signatureMatches(token, [KEY]));
    }
    assert.notEqual(computeSignature('hub%2fdevices%2fd1', '123', KEY), computeSignature('hub%2Fdevices%2Fd1', '123', KEY));
  });

  test('matches the primary or the secondary key, not others', () => {
    const token = parseSasToken(createSasToken({ resource: 'hub/devices/d1', keyBase64: OTHER, expiry: 2e9 }));
    assert.ok(signatureMatches(token, [KEY, OTHER]));
    assert.ok(signatureMatches(token, [null, OTHER]));
    assert.ok(!signatureMatches(token, [KEY]));
    assert.ok(!signatureMatches(token, []));
  });

  test('encodes resources as the Node SDK does, including !\'()* in lower-case hex', () => {
    assert.equal(encodeResource("hub:8883/devices/a b!'()*"), 'hub%3A8883%2Fdevices%2Fa%20b%21%27%28%29%2a');
  });

  test('hub tokens carry the bare host name and the policy name', () => {
    const text = createSasToken({ resource: 'hub.example', keyBase64: KEY, keyName: 'iothubowner', expiry: 1234.9, encode: false });
    assert.match(text, /^SharedAccessSignature sr=hub\.example&sig=[^&]+&se=1234&skn=iothubowner$/);
  });
});
