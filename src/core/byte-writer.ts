// A growing UTF-8 byte buffer, written a line at a time. Building one big string out of many
// small ones instead keeps the garbage collector busy flattening it (a third of the time of a
// parse, measured), so output by the megabyte is written here.
export class ByteWriter {
  /** Its own ArrayBuffer (never Buffer's shared pool), so that it can be handed to another thread. */
  private bytes: Buffer;
  private length = 0;

  constructor(size: number) {
    this.bytes = Buffer.allocUnsafeSlow(Math.max(size, 64));
  }

  write(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (this.length + text.length * 3 > this.bytes.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(this.bytes.length * 2, this.length + text.length * 3));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    this.length += this.bytes.write(text, this.length);
  }

  /** What was written (a view of the buffer, not a copy). */
  result(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}
