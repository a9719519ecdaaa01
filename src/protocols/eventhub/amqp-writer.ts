/**
 * Just enough of the AMQP 1.0 type system (§1.6) to encode an event message fast: rhea's generic encoder wraps
 * every value in an object and costs about ten times as much, which made it the endpoint's largest cost. Compound
 * values use the 32-bit forms, sized after their content is written; strings and symbols use the 8-bit forms when
 * they certainly fit.
 */
export class AmqpWriter {
  #buffer: Buffer;
  #at = 0;

  constructor(sizeHint = 1024) {
    this.#buffer = Buffer.allocUnsafe(sizeHint);
  }

  /** The bytes written so far (a view, not a copy). */
  bytes(): Buffer {
    return this.#buffer.subarray(0, this.#at);
  }

  null(): void {
    this.#byte(0x40);
  }

  boolean(value: boolean): void {
    this.#byte(value ? 0x41 : 0x42);
  }

  /** A section or other described value: call, then write the value. */
  descriptor(code: number): void {
    this.#room(3);
    this.#buffer[this.#at++] = 0x00;
    this.#buffer[this.#at++] = 0x53; // smallulong
    this.#buffer[this.#at++] = code;
  }

  long(value: number): void {
    if (value >= -128 && value <= 127) {
      this.#room(2);
      this.#buffer[this.#at++] = 0x55;
      this.#at = this.#buffer.writeInt8(value, this.#at);
    } else {
      this.#int64(0x81, value);
    }
  }

  timestamp(ms: number): void {
    this.#int64(0x83, ms);
  }

  int(value: number): void {
    if (value >= -128 && value <= 127) {
      this.#room(2);
      this.#buffer[this.#at++] = 0x54;
      this.#at = this.#buffer.writeInt8(value, this.#at);
    } else {
      this.#room(5);
      this.#buffer[this.#at++] = 0x71;
      this.#at = this.#buffer.writeInt32BE(value, this.#at);
    }
  }

  /** A JS number the way rhea's `types.wrap` types it, so peers decode the same value either way. */
  number(value: number): void {
    if (Number.isNaN(value)) return this.null();
    if (!Number.isInteger(value)) {
      this.#room(9);
      this.#buffer[this.#at++] = 0x82;
      this.#at = this.#buffer.writeDoubleBE(value, this.#at);
    } else if (value > 0 && value < 0xffffffff) {
      this.#room(5);
      if (value <= 255) {
        this.#buffer[this.#at++] = 0x52;
        this.#buffer[this.#at++] = value;
      } else {
        this.#buffer[this.#at++] = 0x70;
        this.#at = this.#buffer.writeUInt32BE(value, this.#at);
      }
    } else if (value > 0) {
      this.#room(9);
      this.#buffer[this.#at++] = 0x80;
      this.#at = this.#buffer.writeBigUInt64BE(BigInt(value), this.#at);
    } else if (value > -0x80000000) {
      this.int(value);
    } else {
      this.#int64(0x81, value);
    }
  }

  string(value: string): void {
    this.#text(value, 0xa1, 0xb1);
  }

  symbol(value: string): void {
    this.#text(value, 0xa3, 0xb3);
  }

  binary(value: Buffer): void {
    this.#room(5 + value.length);
    if (value.length <= 255) {
      this.#buffer[this.#at++] = 0xa0;
      this.#buffer[this.#at++] = value.length;
    } else {
      this.#buffer[this.#at++] = 0xb0;
      this.#at = this.#buffer.writeUInt32BE(value.length, this.#at);
    }
    this.#at += value.copy(this.#buffer, this.#at);
  }

  /** A map (§1.6.23): `write` writes the keys and values alternately and returns how many values it wrote. */
  map(write: () => number): void {
    this.#compound(0xd1, write);
  }

  /** A list (§1.6.22): `write` writes the items and returns how many. */
  list(write: () => number): void {
    this.#compound(0xd0, write);
  }

  #compound(code: number, write: () => number): void {
    this.#room(9);
    this.#buffer[this.#at++] = code;
    const sizeAt = this.#at;
    this.#at += 8;
    const count = write();
    // The size counts the bytes after the size field: the count field and the elements.
    this.#buffer.writeUInt32BE(this.#at - sizeAt - 4, sizeAt);
    this.#buffer.writeUInt32BE(count, sizeAt + 4);
  }

  #text(value: string, short: number, long: number): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit, so this length surely fits the 8-bit form.
    if (value.length <= 85) {
      this.#room(2 + value.length * 3);
      this.#buffer[this.#at++] = short;
      const lengthAt = this.#at++;
      const written = this.#buffer.write(value, this.#at, 'utf8');
      this.#buffer[lengthAt] = written;
      this.#at += written;
    } else {
      this.#room(5 + value.length * 3);
      this.#buffer[this.#at++] = long;
      const written = this.#buffer.write(value, this.#at + 4, 'utf8');
      this.#at = this.#buffer.writeUInt32BE(written, this.#at);
      this.#at += written;
    }
  }

  /** A signed 64-bit big-endian integer from a safe JS integer, without going through BigInt. */
  #int64(code: number, value: number): void {
    this.#room(9);
    this.#buffer[this.#at++] = code;
    const high = Math.floor(value / 0x1_0000_0000);
    this.#at = this.#buffer.writeInt32BE(high, this.#at);
    this.#at = this.#buffer.writeUInt32BE(value - high * 0x1_0000_0000, this.#at);
  }

  #byte(value: number): void {
    this.#room(1);
    this.#buffer[this.#at++] = value;
  }

  #room(n: number): void {
    if (this.#at + n <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#at + n));
    this.#buffer.copy(grown, 0, 0, this.#at);
    this.#buffer = grown;
  }
}
