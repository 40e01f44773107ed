/**
 * An incremental HTTP/1.1 request-head parser (RFC 9112 2-3, 9.3 persistence)
 * for httpd: bytes in, complete requests out in order. Bodies are not
 * supported (GET/HEAD only): a request announcing one (other than
 * "Content-Length: 0") is answered 400. Heads larger than 16 KiB are refused.
 */
const MAX_HEAD = 16 * 1024;
const dec = new TextDecoder("latin1");

export interface HttpRequest {
  method: string;
  target: string;
  version: string;
  keepAlive: boolean;
  /** 0, or the status to answer with (400, 505). */
  error: number;
}

export class HttpRequestParser {
  private buf = new Uint8Array(4096);
  private len = 0;
  overflow = false;

  push(d: Uint8Array): void {
    if (this.len + d.length > this.buf.length) {
      if (this.len + d.length > MAX_HEAD * 4) {
        this.overflow = true;
        return;
      }
      const nb = new Uint8Array(Math.max(this.buf.length * 2, this.len + d.length));
      nb.set(this.buf.subarray(0, this.len));
      this.buf = nb;
    }
    this.buf.set(d, this.len);
    this.len += d.length;
  }

  private headEnd(): number {
    const b = this.buf;
    for (let i = 3; i < this.len; i++) {
      if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) return i + 1;
    }
    return -1;
  }

  hasRequest(): boolean {
    return this.headEnd() >= 0 || this.overflow;
  }

  /** The next complete request, or null when more bytes are needed. */
  next(): HttpRequest | null {
    if (this.overflow) {
      this.overflow = false;
      this.len = 0;
      return { method: "", target: "", version: "", keepAlive: false, error: 400 };
    }
    let end = this.headEnd();
    if (end < 0) {
      if (this.len > MAX_HEAD) {
        this.len = 0;
        return { method: "", target: "", version: "", keepAlive: false, error: 400 };
      }
      return null;
    }
    const head = dec.decode(this.buf.subarray(0, end));
    this.buf.copyWithin(0, end, this.len);
    this.len -= end;
    end = 0;
    // RFC 9112 2.2: ignore at least one empty line before the request line.
    const lines = head.replace(/^(\r\n)+/, "").split("\r\n");
    const [method, target, version, extra] = lines[0]!.split(" ");
    if (!method || !target || !version || extra !== undefined || !/^[A-Z]+$/.test(method)) {
      return { method: method ?? "", target: target ?? "", version: version ?? "", keepAlive: false, error: 400 };
    }
    if (!/^HTTP\/1\.[01]$/.test(version)) return { method, target, version, keepAlive: false, error: version.startsWith("HTTP/") ? 505 : 400 };
    let connection = "";
    let bodyLen = 0;
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!;
      if (l === "") continue;
      const colon = l.indexOf(":");
      if (colon <= 0) return { method, target, version, keepAlive: false, error: 400 };
      const name = l.slice(0, colon).toLowerCase();
      const value = l.slice(colon + 1).trim();
      if (name === "connection") connection = value.toLowerCase();
      else if (name === "content-length") bodyLen = Number(value);
      else if (name === "transfer-encoding") bodyLen = -1;
    }
    if (bodyLen !== 0) return { method, target, version, keepAlive: false, error: 400 };
    // RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
    const keepAlive = version === "HTTP/1.1" ? !connection.includes("close") : connection.includes("keep-alive");
    return { method, target, version, keepAlive, error: 0 };
  }
}
