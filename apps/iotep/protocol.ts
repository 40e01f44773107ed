/**
 * The iotep wire protocol (DESIGN.md "iotep workload", from QStack's
 * apps/iotepserver.c and the MCC generator):
 *
 *   client -> server: fixed-length messages (-l, default 200 bytes)
 *     bytes 0-3  a per-connection counter (we write it big-endian)
 *     request    byte 5 = 0x01, byte 6 = 0x02           (high priority)
 *     heartbeat  byte 5 = 0x00, byte 6 = 0x02, byte 8 = 0x08
 *   server -> client: only requests are answered, with a 146-byte HTTP/1.1
 *     200 response header whose byte 6 is overwritten with 0x03, the label a
 *     wire monitor pairs on (request bytes 5..6 = 01 02, response byte 6 = 03).
 *
 * Like QStack's packet filter (payload[5] == 0x01), anything whose byte 5 is
 * 0x01 is a request; everything else is served as a heartbeat (low priority),
 * and counted as `other` when it is not exactly the heartbeat pattern.
 *
 * Also here: MessageFramer, which cuts a byte stream into fixed-length
 * messages that may arrive split or coalesced, keeping per connection only a
 * byte count and the first HEAD_BYTES of a message in typed arrays (no JS
 * object per connection), and a builder of the two message kinds over one
 * reusable buffer each (no allocation per message).
 */

export const DEFAULT_MSG_LEN = 200;
/** Shortest message that holds every labelled byte (byte 8 is the last). */
export const MIN_MSG_LEN = 9;
export const MAX_MSG_LEN = 65535;
export const REPLY_LEN = 146;

/** Byte offsets inside a message. */
export const OFF_COUNTER = 0;
export const OFF_PRIO = 5;
export const OFF_LABEL = 6;
export const OFF_HB_MARK = 8;
/** Bytes stored as the Redis value for a new key: the first 6 payload bytes. */
export const VALUE_BYTES = 6;

export const PRIO_HIGH = 0x01;
export const PRIO_LOW = 0x00;
export const LABEL_REQUEST = 0x02;
export const LABEL_REPLY = 0x03;
export const HB_MARK = 0x08;

/** Message kinds (classifyMessage). */
export const MSG_HEARTBEAT = 0;
export const MSG_REQUEST = 1;
/** Neither pattern exactly; served like a heartbeat (low priority, no reply). */
export const MSG_OTHER = 2;

/** Bytes of each message the framer keeps when a message spans reads: bytes 0..8 carry everything we look at. */
export const HEAD_BYTES = 16;

/** The kind of the message whose first bytes are at buf[off..off+9). */
export function classifyMessage(buf: Uint8Array, off: number): number {
  const prio = buf[off + OFF_PRIO];
  if (prio === PRIO_HIGH) return MSG_REQUEST;
  if (prio === PRIO_LOW && buf[off + OFF_LABEL] === LABEL_REQUEST && buf[off + OFF_HB_MARK] === HB_MARK) return MSG_HEARTBEAT;
  return MSG_OTHER;
}

/** True when buf[off..] starts like an iotep reply (byte 6 = 0x03, "HTTP/" before it). */
export function isReply(buf: Uint8Array, off: number, len: number): boolean {
  return len > OFF_LABEL && buf[off + OFF_LABEL] === LABEL_REPLY && buf[off] === 0x48 /* H */ && buf[off + 4] === 0x2f /* / */;
}

export function checkMsgLen(len: number): void {
  if (!Number.isInteger(len) || len < MIN_MSG_LEN || len > MAX_MSG_LEN) {
    throw new RangeError(`message length must be an integer ${MIN_MSG_LEN}..${MAX_MSG_LEN}, got ${len}`);
  }
}

/**
 * The two message kinds, each in its own reusable buffer; `request(counter)`
 * and `heartbeat(counter)` write the counter and return the shared buffer,
 * valid until the next call for that kind. Filler bytes are ASCII letters, so
 * no filler byte can look like a label.
 */
export class MessageBuilder {
  readonly len: number;
  private readonly req: Uint8Array;
  private readonly hb: Uint8Array;
  private readonly reqDv: DataView;
  private readonly hbDv: DataView;

  constructor(len = DEFAULT_MSG_LEN) {
    checkMsgLen(len);
    this.len = len;
    this.req = new Uint8Array(len);
    this.hb = new Uint8Array(len);
    for (let i = 0; i < len; i++) this.req[i] = this.hb[i] = 0x61 + (i % 26);
    this.req[4] = this.hb[4] = 0;
    this.req[OFF_PRIO] = PRIO_HIGH;
    this.req[OFF_LABEL] = LABEL_REQUEST;
    this.req[7] = 0;
    this.req[OFF_HB_MARK] = 0;
    this.hb[OFF_PRIO] = PRIO_LOW;
    this.hb[OFF_LABEL] = LABEL_REQUEST;
    this.hb[7] = 0;
    this.hb[OFF_HB_MARK] = HB_MARK;
    this.reqDv = new DataView(this.req.buffer);
    this.hbDv = new DataView(this.hb.buffer);
  }

  request(counter: number): Uint8Array {
    this.reqDv.setUint32(OFF_COUNTER, counter >>> 0);
    return this.req;
  }

  heartbeat(counter: number): Uint8Array {
    this.hbDv.setUint32(OFF_COUNTER, counter >>> 0);
    return this.hb;
  }
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** 37 characters: with a 29-character IMF-fixdate the header is exactly REPLY_LEN bytes. */
const SERVER_VALUE = "QStack-for-Bun iotepserver (Bun + TS)";

function two(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/** RFC 9110 5.6.7 IMF-fixdate: always 29 characters, e.g. "Sun, 06 Nov 1994 08:49:37 GMT". */
export function imfFixdate(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT`;
}

/**
 * The reply: an HTTP/1.1 200 response header of exactly REPLY_LEN bytes
 * (status line, Date, Server, Content-Length, Connection), byte 6 set to
 * 0x03. The Server value is 37 characters so the total is 146 for any date (an
 * IMF-fixdate has a fixed width). Like QStack, there is no body, so the
 * header says Content-Length: 0. One buffer, rebuilt at most once a second.
 */
export class ReplyBuilder {
  readonly buf = new Uint8Array(REPLY_LEN);
  private sec = -1;

  /** The reply for wall-clock time `wallMs`; the buffer is shared and rewritten when the second changes. */
  at(wallMs: number): Uint8Array {
    const s = Math.floor(wallMs / 1000);
    if (s !== this.sec) {
      this.sec = s;
      writeReply(this.buf, s * 1000);
    }
    return this.buf;
  }
}

/** Write the 146-byte reply for wall time `wallMs` into out[0..146). */
export function writeReply(out: Uint8Array, wallMs: number): void {
  const text = `HTTP/1.1 200 OK\r\nDate: ${imfFixdate(wallMs)}\r\nServer: ${SERVER_VALUE}\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n`;
  if (text.length !== REPLY_LEN) throw new Error(`iotep reply header is ${text.length} bytes, not ${REPLY_LEN}`);
  for (let i = 0; i < REPLY_LEN; i++) out[i] = text.charCodeAt(i);
  out[OFF_LABEL] = LABEL_REPLY;
}

/** Receives complete messages from MessageFramer.push. */
export interface FrameSink {
  /**
   * One complete message on connection `conn`. Its first HEAD_BYTES (or all,
   * if shorter) are at src[srcOff..]; the view is valid only during the call.
   */
  onMessage(conn: number, src: Uint8Array, srcOff: number): void;
}

/**
 * Cuts each connection's byte stream into messages of `msgLen` bytes.
 * Per connection it keeps a byte count (Uint32Array) and the first HEAD_BYTES
 * of a message that spans reads (Uint8Array); connection ids are small
 * integers (the index), and the arrays grow by doubling when a larger id
 * appears. Complete messages inside one read are passed straight from the
 * read buffer, without a copy.
 */
export class MessageFramer {
  readonly msgLen: number;
  private readonly headLen: number;
  private have: Uint32Array;
  private head: Uint8Array;

  constructor(msgLen: number, initialConns = 1024) {
    if (!Number.isInteger(msgLen) || msgLen < 1) throw new RangeError(`bad message length ${msgLen}`);
    this.msgLen = msgLen;
    this.headLen = msgLen < HEAD_BYTES ? msgLen : HEAD_BYTES;
    const n = initialConns > 1 ? initialConns : 1;
    this.have = new Uint32Array(n);
    this.head = new Uint8Array(n * HEAD_BYTES);
  }

  get capacity(): number {
    return this.have.length;
  }

  /** Make room for connection id `conn`. */
  ensure(conn: number): void {
    if (conn < this.have.length) return;
    let n = this.have.length;
    while (n <= conn) n *= 2;
    const have = new Uint32Array(n);
    have.set(this.have);
    const head = new Uint8Array(n * HEAD_BYTES);
    head.set(this.head);
    this.have = have;
    this.head = head;
  }

  /** Forget a partial message (connection opened or closed). */
  reset(conn: number): void {
    if (conn < this.have.length) this.have[conn] = 0;
  }

  /** Bytes of an incomplete message buffered for `conn`. */
  partial(conn: number): number {
    return conn < this.have.length ? this.have[conn]! : 0;
  }

  /** Feed buf[off..off+len) received on `conn`; calls sink.onMessage per complete message. Returns the number of messages. */
  push(conn: number, buf: Uint8Array, off: number, len: number, sink: FrameSink): number {
    if (conn >= this.have.length) this.ensure(conn);
    const L = this.msgLen;
    const H = this.headLen;
    const head = this.head;
    const hbase = conn * HEAD_BYTES;
    const end = off + len;
    let p = off;
    let n = 0;
    let have = this.have[conn]!;
    // Finish a message begun in an earlier read.
    if (have > 0) {
      const take = L - have < end - p ? L - have : end - p;
      for (let i = 0; i < take && have + i < H; i++) head[hbase + have + i] = buf[p + i]!;
      have += take;
      p += take;
      if (have < L) {
        this.have[conn] = have;
        return 0;
      }
      have = 0;
      this.have[conn] = 0;
      sink.onMessage(conn, head, hbase);
      n++;
    }
    // Whole messages straight from the read buffer.
    while (end - p >= L) {
      sink.onMessage(conn, buf, p);
      p += L;
      n++;
    }
    // Keep the start of the next one.
    const rest = end - p;
    if (rest > 0) {
      for (let i = 0; i < rest && i < H; i++) head[hbase + i] = buf[p + i]!;
      this.have[conn] = rest;
    }
    return n;
  }
}
