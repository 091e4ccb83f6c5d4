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
  /** the start of a frame whose MSG-LEN is still arriving (at most MAX_LENGTH_DIGITS bytes) */
  private held: Buffer = Buffer.alloc(0);
  /** an octet-counted frame being filled: allocated once its length is known, each chunk copied in once */
  private frame: Buffer | null = null;
  private filled = 0;
  /** a non-transparent frame waiting for its LF: its parts, joined once at the LF */
  private lineParts: Buffer[] = [];
  private lineBytes = 0;
  /** octet-counted frame being discarded: bytes still to skip */
  private skip = 0;
  /** a non-transparent frame longer than the limit: discard up to the next LF */
  private skipLine = false;
  private failed = false;

  constructor(private readonly maxBytes: number, private readonly allowLf: boolean, private readonly handler: FrameHandler) {}

  /** Whether part of a frame is waiting for more bytes (what a slowloris sender leaves). */
  get partial(): boolean {
    return this.held.length > 0 || this.frame !== null || this.lineParts.length > 0 || this.skip > 0 || this.skipLine;
  }

  /** Returns false once the stream cannot be read any further (the caller closes it). */
  write(chunk: Buffer): boolean {
    if (this.failed) return false;
    // Copying each chunk once, not everything held again with each one: a frame sent in n
    // small pieces would otherwise cost n times its length (a sender in allow stalling the loop).
    let pos = this.continueFrame(chunk);
    if (pos < 0) return true;
    // only a few digits are ever held: joining them to the chunk is cheap
    const data = this.held.length > 0 ? Buffer.concat([this.held, chunk.subarray(pos)]) : pos > 0 ? chunk.subarray(pos) : chunk;
    this.held = Buffer.alloc(0);
    pos = 0;
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
        if (i === data.length && i - pos <= MAX_LENGTH_DIGITS) {
          this.held = Buffer.from(data.subarray(pos)); // the length is still arriving
          return true;
        }
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
        if (data.length - start < length) {
          // the message is still arriving: a copy, the chunk may be a large one the socket would otherwise keep alive
          this.frame = Buffer.allocUnsafe(length);
          this.filled = data.copy(this.frame, 0, start);
          return true;
        }
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
      if (lf < 0) {
        this.lineParts = [Buffer.from(data.subarray(pos))];
        this.lineBytes = data.length - pos;
        return true;
      }
      this.handler.message(data.subarray(pos, lf));
      pos = lf + 1;
    }
    return true;
  }

  /**
   * Feeds the frame in progress (octet-counted being filled, or a line waiting for its LF) from
   * the chunk. Returns where the rest of the chunk starts, or -1 when the chunk was all taken.
   */
  private continueFrame(chunk: Buffer): number {
    if (this.frame !== null) {
      const n = chunk.copy(this.frame, this.filled);
      this.filled += n;
      if (this.filled < this.frame.length) return -1;
      const frame = this.frame;
      this.frame = null;
      this.handler.message(frame);
      return n;
    }
    if (this.lineParts.length === 0) return 0;
    // only the new chunk is searched for the LF
    const lf = chunk.indexOf(LF);
    const end = lf < 0 ? chunk.length : lf;
    this.lineBytes += end;
    if (this.lineBytes > this.maxBytes) {
      this.handler.problem('oversized', `a line of more than ${this.maxBytes} bytes (max_message_bytes) was passed over`);
      this.lineParts = [];
      if (lf < 0) {
        this.skipLine = true;
        return -1;
      }
      return lf + 1;
    }
    if (lf < 0) {
      this.lineParts.push(Buffer.from(chunk));
      return -1;
    }
    this.lineParts.push(chunk.subarray(0, lf));
    const line = Buffer.concat(this.lineParts, this.lineBytes);
    this.lineParts = [];
    this.handler.message(line);
    return lf + 1;
  }

  /** The connection ended: a non-transparent frame without its LF is still a message (RFC 6587 allows ending with the close). */
  end(): void {
    if (!this.failed && this.lineParts.length > 0) this.handler.message(Buffer.concat(this.lineParts, this.lineBytes));
    this.reset();
  }

  private fail(kind: FrameProblem, detail: string): false {
    this.failed = true;
    this.reset();
    this.handler.problem(kind, detail);
    return false;
  }

  private reset(): void {
    this.held = Buffer.alloc(0);
    this.frame = null;
    this.lineParts = [];
    this.lineBytes = 0;
  }
}
