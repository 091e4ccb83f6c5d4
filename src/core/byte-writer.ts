// A growing UTF-8 byte buffer that output by the megabyte (JSON lines, the repository's COPY
// rows) is written into directly, value by value: building each line as a string first and
// encoding it afterwards cost more than the parsing (strings built by concatenation are flattened
// and encoded again, and the garbage collector frees them all). The value writers with their
// escapes live beside their formats: writeEventJson in event.ts, writeCopyRow in repository/encode.ts.
export class ByteWriter {
  /** Its own ArrayBuffer (never Buffer's shared pool), so that it can be handed to another thread. */
  bytes: Buffer;
  /** Bytes written so far: the next one goes to bytes[length]. */
  length = 0;

  /** `reuse`: memory to write into instead of new memory, when it holds `size` bytes (a buffer handed back, see ParsePool). */
  constructor(size: number, reuse?: ArrayBuffer) {
    this.bytes = reuse !== undefined && reuse.byteLength >= size ? Buffer.from(reuse) : Buffer.allocUnsafeSlow(Math.max(size, 64));
  }

  /** Makes room for `count` more bytes and returns the buffer to write them into, from `length` on. */
  room(count: number): Buffer {
    if (this.length + count > this.bytes.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.length + count));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    return this.bytes;
  }

  /** Bytes made beforehand (a constant part of a line). */
  constant(bytes: Uint8Array): void {
    this.room(bytes.length).set(bytes, this.length);
    this.length += bytes.length;
  }

  /** A byte (a separator). */
  byte(value: number): void {
    this.room(1)[this.length++] = value;
  }

  /** Text as UTF-8, as it is (lone surrogates become U+FFFD). */
  text(value: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.room(value.length * 3);
    this.length += this.bytes.write(value, this.length);
  }

  /** A number as JSON and PostgreSQL write it (String(n)); whole numbers digit by digit, without a string. */
  number(value: number): void {
    if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER && Number.isInteger(value))) {
      this.text(String(value));
      return;
    }
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    const b = this.room(digits);
    let p = this.length + digits;
    this.length = p;
    let rest = value;
    do {
      const next = Math.floor(rest / 10);
      b[--p] = 48 + (rest - next * 10);
      rest = next;
    } while (rest > 0);
  }

  /** What was written (a view of the buffer, not a copy). */
  result(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/**
 * Writes the UTF-8 of the non-ASCII UTF-16 unit c = value[i] into b at p and returns the new p.
 * A surrogate pair takes 4 bytes, and the caller skips its second half; a lone surrogate becomes
 * U+FFFD, as Buffer.write makes it (the JSON writer escapes those itself, as JSON.stringify does).
 */
export function utf8Char(b: Uint8Array, p: number, value: string, i: number, c: number): number {
  if (c < 0x800) {
    b[p] = 0xc0 | (c >> 6);
    b[p + 1] = 0x80 | (c & 63);
    return p + 2;
  }
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
    const low = value.charCodeAt(i + 1);
    if (low >= 0xdc00 && low <= 0xdfff) {
      const point = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
      b[p] = 0xf0 | (point >> 18);
      b[p + 1] = 0x80 | ((point >> 12) & 63);
      b[p + 2] = 0x80 | ((point >> 6) & 63);
      b[p + 3] = 0x80 | (point & 63);
      return p + 4;
    }
  }
  if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
  b[p] = 0xe0 | (c >> 12);
  b[p + 1] = 0x80 | ((c >> 6) & 63);
  b[p + 2] = 0x80 | (c & 63);
  return p + 3;
}

/**
 * Whether c = value[i] is a surrogate without its other half, for a writer going through value in
 * order (which has written a pair whole at its first half, so a second half it meets is lone).
 */
export function isLoneSurrogate(value: string, i: number, c: number): boolean {
  if (c < 0xd800 || c > 0xdfff) return false;
  if (c >= 0xdc00) return true;
  const next = i + 1 < value.length ? value.charCodeAt(i + 1) : 0;
  return !(next >= 0xdc00 && next <= 0xdfff);
}
