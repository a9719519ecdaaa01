import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isHubError } from '../../src/domain/errors.js';
import { DEFAULT_TWIN_LIMITS, mergePatch, patchSection, replacementPatch, replaceSection, sectionBytes, validateTwinObject } from '../../src/domain/twin-patch.js';
import { twinEtagOf, versionOfTwinEtag, type JsonObject, type TwinSection } from '../../src/domain/twin.js';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-02T03:04:05.678Z';
const T2 = '2026-01-03T00:00:00.001Z';

/** Asserts validateTwinObject refuses `value` with ArgumentInvalid (400004) and a message matching `message`. */
function refused(value: unknown, message: RegExp, maxDepth = DEFAULT_TWIN_LIMITS.maxDepth): void {
  assert.throws(
    () => validateTwinObject(value, 'tags', maxDepth),
    (err: unknown) => {
      assert.ok(isHubError(err, 'ArgumentInvalid'), `expected ArgumentInvalid, got ${String(err)}`);
      assert.equal(err.numericCode, 400004);
      assert.equal(err.status, 400);
      assert.match(err.message, message);
      return true;
    },
  );
}

function accepted(value: unknown, maxDepth = DEFAULT_TWIN_LIMITS.maxDepth): void {
  assert.doesNotThrow(() => validateTwinObject(value, 'tags', maxDepth));
}

/** `{k1: {k2: … {kN: {leaf: 'v'}}}}`: N objects nested below the root. */
function nested(levels: number): JsonObject {
  let inner: JsonObject = { leaf: 'v' };
  for (let i = levels; i >= 1; i--) inner = { [`k${i}`]: inner };
  return inner;
}

describe('mergePatch', () => {
  test('null deletes, objects merge recursively, everything else replaces', () => {
    const target: JsonObject = { a: 1, b: { c: 2, d: { e: 3, f: 4 } }, g: 'x', h: [1, 2, 3], i: { j: 1 } };
    const patch: JsonObject = { a: null, b: { c: null, d: { e: 30 }, k: true }, g: { now: 'object' }, h: [9], i: 'leaf', missing: null, n: null };
    assert.deepEqual(mergePatch(target, patch), {
      b: { d: { e: 30, f: 4 }, k: true },
      g: { now: 'object' },
      h: [9],
      i: 'leaf',
    });
  });

  test('arrays replace wholesale, never merge element by element', () => {
    assert.deepEqual(mergePatch({ list: [1, 2, 3], objs: [{ a: 1 }] }, { list: [], objs: [{ b: 2 }] }), { list: [], objs: [{ b: 2 }] });
  });

  test('an object patch on an absent or non-object key starts from {} and drops its nulls', () => {
    assert.deepEqual(mergePatch({ leaf: 5 }, { leaf: { x: 1, y: null }, fresh: { z: null } }), { leaf: { x: 1 }, fresh: {} });
  });

  test('neither the target nor the patch is mutated', () => {
    const target: JsonObject = { a: 1, b: { c: 2, d: { e: 3 } }, gone: 'x' };
    const patch: JsonObject = { b: { c: null, d: { e: 4, f: 5 } }, gone: null, list: [1] };
    const targetBefore = structuredClone(target);
    const patchBefore = structuredClone(patch);
    const result = mergePatch(target, patch);
    assert.deepEqual(target, targetBefore);
    assert.deepEqual(patch, patchBefore);
    assert.deepEqual(result, { a: 1, b: { d: { e: 4, f: 5 } }, list: [1] });
    assert.notEqual(result, target);
    assert.notEqual(result.b, target.b);
  });

  test('an empty patch gives an equal copy', () => {
    const target: JsonObject = { a: { b: 1 } };
    const result = mergePatch(target, {});
    assert.deepEqual(result, { a: { b: 1 } });
    assert.notEqual(result, target);
  });
});

describe('patchSection', () => {
  /** A desired section at version 3 whose stamps are all T0 (versions differ, to see which survive). */
  function desiredSection(): TwinSection {
    return {
      properties: { a: 1, b: { c: 2, d: 3 }, e: 'x' },
      version: 3,
      metadata: {
        $lastUpdated: T0,
        $lastUpdatedVersion: 3,
        a: { $lastUpdated: T0, $lastUpdatedVersion: 2 },
        b: { $lastUpdated: T0, $lastUpdatedVersion: 3, c: { $lastUpdated: T0, $lastUpdatedVersion: 3 }, d: { $lastUpdated: T0, $lastUpdatedVersion: 1 } },
        e: { $lastUpdated: T0, $lastUpdatedVersion: 1 },
      },
    };
  }

  test('desired: version + 1; every touched level and leaf stamped with $lastUpdated and $lastUpdatedVersion; untouched siblings keep theirs', () => {
    const section = desiredSection();
    const before = structuredClone(section);
    const next = patchSection(section, { b: { c: 5, f: { g: true } }, e: null, h: [1, 2] }, T1, true);
    assert.equal(next.version, 4);
    assert.deepEqual(next.properties, { a: 1, b: { c: 5, d: 3, f: { g: true } }, h: [1, 2] });
    assert.deepEqual(next.metadata, {
      $lastUpdated: T1,
      $lastUpdatedVersion: 4,
      a: { $lastUpdated: T0, $lastUpdatedVersion: 2 },
      b: {
        $lastUpdated: T1,
        $lastUpdatedVersion: 4,
        c: { $lastUpdated: T1, $lastUpdatedVersion: 4 },
        d: { $lastUpdated: T0, $lastUpdatedVersion: 1 },
        f: { $lastUpdated: T1, $lastUpdatedVersion: 4, g: { $lastUpdated: T1, $lastUpdatedVersion: 4 } },
      },
      h: { $lastUpdated: T1, $lastUpdatedVersion: 4 },
    });
    assert.deepEqual(section, before, 'the input section is not mutated');
  });

  test('reported: $lastUpdated only, never $lastUpdatedVersion', () => {
    const section: TwinSection = { properties: { fw: '1.0', net: { rssi: -70 } }, version: 1, metadata: { $lastUpdated: T0, fw: { $lastUpdated: T0 }, net: { $lastUpdated: T0, rssi: { $lastUpdated: T0 } } } };
    const next = patchSection(section, { net: { ssid: 'home' }, battery: 80 }, T1, false);
    assert.equal(next.version, 2);
    assert.deepEqual(next.properties, { fw: '1.0', net: { rssi: -70, ssid: 'home' }, battery: 80 });
    assert.deepEqual(next.metadata, {
      $lastUpdated: T1,
      fw: { $lastUpdated: T0 },
      net: { $lastUpdated: T1, rssi: { $lastUpdated: T0 }, ssid: { $lastUpdated: T1 } },
      battery: { $lastUpdated: T1 },
    });
    assert.ok(!JSON.stringify(next.metadata).includes('$lastUpdatedVersion'));
  });

  test('deleted keys leave the metadata, at any level; the parent level is stamped', () => {
    const next = patchSection(desiredSection(), { a: null, b: { d: null } }, T1, true);
    assert.deepEqual(next.properties, { b: { c: 2 }, e: 'x' });
    assert.deepEqual(next.metadata, {
      $lastUpdated: T1,
      $lastUpdatedVersion: 4,
      b: { $lastUpdated: T1, $lastUpdatedVersion: 4, c: { $lastUpdated: T0, $lastUpdatedVersion: 3 } },
      e: { $lastUpdated: T0, $lastUpdatedVersion: 1 },
    });
  });

  test('an object replaced by a leaf loses its nested metadata; a leaf replaced by an object gains it', () => {
    const next = patchSection(desiredSection(), { b: 7, e: { inner: 1 } }, T1, true);
    assert.deepEqual(next.properties, { a: 1, b: 7, e: { inner: 1 } });
    assert.deepEqual(next.metadata.b, { $lastUpdated: T1, $lastUpdatedVersion: 4 });
    assert.deepEqual(next.metadata.e, { $lastUpdated: T1, $lastUpdatedVersion: 4, inner: { $lastUpdated: T1, $lastUpdatedVersion: 4 } });
  });

  test('successive patches count up and keep earlier stamps where nothing changed', () => {
    const once = patchSection(desiredSection(), { a: 2 }, T1, true);
    const twice = patchSection(once, { e: 'y' }, T2, true);
    assert.equal(twice.version, 5);
    assert.deepEqual(twice.metadata.a, { $lastUpdated: T1, $lastUpdatedVersion: 4 });
    assert.deepEqual(twice.metadata.e, { $lastUpdated: T2, $lastUpdatedVersion: 5 });
    assert.equal(twice.metadata.$lastUpdated, T2);
    assert.equal(twice.metadata.$lastUpdatedVersion, 5);
  });
});

describe('replaceSection', () => {
  test('replaces the properties wholesale, version + 1, every property stamped now and nothing old kept', () => {
    const section: TwinSection = {
      properties: { old: 1, keep: { x: 1 } },
      version: 6,
      metadata: { $lastUpdated: T0, $lastUpdatedVersion: 6, old: { $lastUpdated: T0, $lastUpdatedVersion: 6 }, keep: { $lastUpdated: T0, $lastUpdatedVersion: 2, x: { $lastUpdated: T0, $lastUpdatedVersion: 2 } } },
    };
    const replacement: JsonObject = { keep: { y: 2 }, list: ['a'] };
    const next = replaceSection(section, replacement, T1, true);
    assert.equal(next.version, 7);
    assert.deepEqual(next.properties, { keep: { y: 2 }, list: ['a'] });
    assert.deepEqual(next.metadata, {
      $lastUpdated: T1,
      $lastUpdatedVersion: 7,
      keep: { $lastUpdated: T1, $lastUpdatedVersion: 7, y: { $lastUpdated: T1, $lastUpdatedVersion: 7 } },
      list: { $lastUpdated: T1, $lastUpdatedVersion: 7 },
    });
    (replacement.keep as JsonObject).y = 'mutated later';
    assert.deepEqual(next.properties.keep, { y: 2 }, 'the section does not share the caller’s object');
  });

  test('without versions (reported) and with an empty replacement', () => {
    const next = replaceSection({ properties: { a: 1 }, version: 1, metadata: { $lastUpdated: T0, a: { $lastUpdated: T0 } } }, {}, T1, false);
    assert.deepEqual(next, { properties: {}, version: 2, metadata: { $lastUpdated: T1 } });
  });
});

describe('validateTwinObject', () => {
  test('plain values, arrays, nested objects and Unicode keys pass', () => {
    accepted({});
    accepted({ s: 'x', n: 1.5, i: -3, b: false, z: null, list: [1, 'a', { k: true }, [null]], obj: { 'ünï-cödé_key:/#@!': 1 } });
  });

  test('non-objects are refused', () => {
    for (const value of [null, [], [{}], 'x', 1, true, undefined]) refused(value, /must be a JSON object/);
  });

  test("keys with '.', '$', space, C0/C1 control characters, or empty are refused, at any level and inside arrays", () => {
    const bad = ['a.b', '$version', 'a$', 'a b', ' ', '\u0000', 'x\u0001', 'tab\t', 'nl\n', '\u001f', '\u007f', '\u0080', 'c1\u0085', '\u009f', ''];
    for (const key of bad) {
      refused({ [key]: 1 }, /is not allowed/);
      refused({ outer: { [key]: 1 } }, /tags\.outer: the key/);
      refused({ list: [{ [key]: 1 }] }, /is not allowed/);
    }
    // Neighbours of the refused ranges are fine.
    for (const key of ['\u00a0x', 'a~b', 'a-b', 'a_b', 'x\u00a1']) accepted({ [key]: 1 });
  });

  test('keys are 1 KB of UTF-8 at most', () => {
    accepted({ ['k'.repeat(1024)]: 1 });
    refused({ ['k'.repeat(1025)]: 1 }, /is not allowed/);
    accepted({ ['é'.repeat(512)]: 1 });
    refused({ ['é'.repeat(513)]: 1 }, /is not allowed/);
  });

  test("depth: Azure's own example of ten objects below the root is valid; eleven are refused", () => {
    accepted(nested(10));
    refused(nested(11), /nests deeper than 10 levels/);
    accepted(nested(3), 3);
    refused(nested(4), /nests deeper than 3 levels/, 3);
  });

  test('strings are 4 KB of UTF-8 at most, in objects and arrays', () => {
    accepted({ s: 'x'.repeat(4096) });
    refused({ s: 'x'.repeat(4097) }, /tags\.s: strings are 4 KB at most/);
    accepted({ s: 'é'.repeat(2048) });
    refused({ s: 'é'.repeat(2049) }, /strings are 4 KB at most/);
    refused({ list: ['ok', 'x'.repeat(4097)] }, /tags\.list\[1\]: strings are 4 KB at most/);
  });

  test('integers from -4503599627370496 to 4503599627370495; non-finite numbers refused', () => {
    accepted({ max: 4503599627370495, min: -4503599627370496, zero: 0, frac: 0.1 });
    refused({ n: 4503599627370496 }, /tags\.n: the number is out of range/);
    refused({ n: -4503599627370497 }, /the number is out of range/);
    refused({ n: Number.MAX_SAFE_INTEGER }, /out of range/);
    refused({ deep: { list: [1, 2 ** 60] } }, /tags\.deep\.list\[1\]: the number is out of range/);
    // JSON cannot carry these, but a caller handing over objects can.
    refused({ n: Infinity }, /out of range/);
    refused({ n: -Infinity }, /out of range/);
    refused({ n: Number.NaN }, /out of range/);
    accepted({ small: 1e-300, negative: -0.25 });
  });

  test('sectionBytes is the JSON length in UTF-8 bytes', () => {
    assert.equal(sectionBytes({}), 2);
    assert.equal(sectionBytes({ a: 'é' }), '{"a":"é"}'.length + 1);
  });
});

describe('twin etags', () => {
  test("base64 of an 8-byte big-endian version, as Azure's", () => {
    assert.equal(twinEtagOf(1), 'AAAAAAAAAAE=');
    assert.equal(twinEtagOf(7), 'AAAAAAAAAAc=');
    assert.equal(twinEtagOf(256), 'AAAAAAAAAQA=');
    assert.equal(twinEtagOf(Number.MAX_SAFE_INTEGER), 'AB////////8=');
  });

  test('round trip', () => {
    for (const version of [0, 1, 2, 255, 256, 65_537, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
      assert.equal(versionOfTwinEtag(twinEtagOf(version)), version, String(version));
    }
  });

  test('foreign etags name no version', () => {
    const foreign = [
      '', // empty
      '*',
      'MA==', // a device etag
      'garbage',
      '"AAAAAAAAAAE="', // still quoted
      'AAAAAAAAAAE', // unpadded
      'AAAAAAAAAAF=', // non-canonical: decodes to the same bytes as AAAAAAAAAAE=
      'AAAAAAAAAAAB', // 9 bytes
      'AAAAAAAAAA==', // 7 bytes
      'AAAAAAAAAAE=AAAAAAAAAAE=',
      'ACAAAAAAAAA=', // 2^53: beyond a safe integer
      '//////////8=', // 2^64 - 1
      'AAAAAAAA_AE=', // base64url alphabet
    ];
    for (const etag of foreign) assert.equal(versionOfTwinEtag(etag), undefined, JSON.stringify(etag));
  });
});

test('replacementPatch: the replacement plus null for every key it drops, at any depth', () => {
  const previous = { a: { x: 1, y: 2 }, b: 'gone', c: [1, 2], d: { deep: { keep: true, drop: false } } };
  const next = { a: { x: 1 }, c: [3], d: { deep: { keep: true } }, e: 'new' };
  assert.deepEqual(replacementPatch(previous, next), { a: { x: 1, y: null }, b: null, c: [3], d: { deep: { keep: true, drop: null } }, e: 'new' });
  assert.deepEqual(next, { a: { x: 1 }, c: [3], d: { deep: { keep: true } }, e: 'new' }, 'the replacement itself is not changed');
});
