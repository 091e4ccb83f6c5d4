// Syslog over a stream (TCP, RFC 6587; TLS, RFC 5425): cuts the bytes of one connection into
// messages. Two framings exist and a sender may use either, frame by frame (RFC 6587 §3.4):
//   octet counting    "MSG-LEN SP SYSLOG-MSG", MSG-LEN a decimal without a leading zero;
//   non-transparent   SYSLOG-MSG up to a LF (it starts with "<" of the PRI).
// A frame that starts with a digit is octet-counted (a syslog message never starts with one),
// anything else runs to the next LF. TLS allows octet counting only.
//
// Memory held per connection is bounded by max_message_bytes: a longer message is passed over
// (its bytes discarded as they come, the frame counted as oversized) and the stream stays in
// step. A length that is not a number cannot be stepped over: the connection is given up.

/** What happened to a frame that was not delivered. */
export type FrameProblem = 'oversized' | 'bad_length' | 'lf_not_allowed';

export interface FrameHandler {
  message(bytes: Buffer): void;
  /** oversized: the message was dropped and reading goes on; the others end the connection. */
  problem(kind: FrameProblem, detail: string): void;
}

/** Digits of MSG-LEN accepted: 9 would already be a gigabyte. */
const MAX_LENGTH_DIGITS = 9;
const SPACE = 0x20;
const LF = 0x0a;

export class FrameDecoder {
  /** bytes of an incomplete frame (at most max_message_bytes + the length field) */
  private held: Buffer = Buffer.alloc(0);
  /** octet-counted frame being discarded: bytes still to skip */
  private skip = 0;
  /** a non-transparent frame longer than the limit: discard up to the next LF */
  private skipLine = false;
  private failed = false;

  constructor(private readonly maxBytes: number, private readonly allowLf: boolean, private readonly handler: FrameHandler) {}

  /** Whether part of a frame is waiting for more bytes (what a slowloris sender leaves). */
  get partial(): boolean {
    return this.held.length > 0 || this.skip > 0 || this.skipLine;
  }

  /** Returns false once the stream cannot be read any further (the caller closes it). */
  write(chunk: Buffer): boolean {
    if (this.failed) return false;
    const data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    let pos = 0;
    while (pos < data.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - pos);
        this.skip -= n;
        pos += n;
        continue;
      }
      if (this.skipLine) {
        const lf = data.indexOf(LF, pos);
        if (lf < 0) return true;
        this.skipLine = false;
        pos = lf + 1;
        continue;
      }
      const first = data[pos]!;
      if (first >= 0x30 && first <= 0x39) {
        // octet counting
        let i = pos;
        while (i < data.length && i - pos <= MAX_LENGTH_DIGITS && data[i]! >= 0x30 && data[i]! <= 0x39) i++;
        if (i === data.length && i - pos <= MAX_LENGTH_DIGITS) break; // the length is still arriving
        if (first === 0x30 || i - pos > MAX_LENGTH_DIGITS || data[i] !== SPACE) {
          return this.fail('bad_length', `a frame starts with ${JSON.stringify(data.subarray(pos, Math.min(data.length, pos + 12)).toString('latin1'))}: expected MSG-LEN (1 to ${MAX_LENGTH_DIGITS} digits, no leading zero) and a space`);
        }
        const length = Number(data.toString('latin1', pos, i));
        const start = i + 1;
        if (length > this.maxBytes) {
          this.handler.problem('oversized', `an octet-counted frame of ${length} bytes (max_message_bytes is ${this.maxBytes}) was passed over`);
          this.skip = length;
          pos = start;
          continue;
        }
        if (data.length - start < length) break; // the message is still arriving
        this.handler.message(data.subarray(start, start + length));
        pos = start + length;
        continue;
      }
      if (!this.allowLf) {
        return this.fail('lf_not_allowed', `a frame starts with byte 0x${first.toString(16).padStart(2, '0')}: TLS syslog (RFC 5425) takes octet-counted frames only`);
      }
      const lf = data.indexOf(LF, pos);
      const end = lf < 0 ? data.length : lf;
      if (end - pos > this.maxBytes) {
        this.handler.problem('oversized', `a line of more than ${this.maxBytes} bytes (max_message_bytes) was passed over`);
        if (lf < 0) {
          this.skipLine = true;
          return true;
        }
        pos = lf + 1;
        continue;
      }
      if (lf < 0) break;
      this.handler.message(data.subarray(pos, lf));
      pos = lf + 1;
    }
    // a copy: the rest may be a small part of a large chunk the socket would otherwise keep alive
    if (pos < data.length) this.held = Buffer.from(data.subarray(pos));
    return true;
  }

  /** The connection ended: a non-transparent frame without its LF is still a message (RFC 6587 allows ending with the close). */
  end(): void {
    if (!this.failed && !this.skipLine && this.skip === 0 && this.held.length > 0 && this.allowLf) {
      const first = this.held[0]!;
      if (first < 0x30 || first > 0x39) this.handler.message(this.held);
    }
    this.held = Buffer.alloc(0);
  }

  private fail(kind: FrameProblem, detail: string): false {
    this.failed = true;
    this.held = Buffer.alloc(0);
    this.handler.problem(kind, detail);
    return false;
  }
}
