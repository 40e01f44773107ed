/**
 * POSIX errno values the TCP layer and the sockets API report. Functions return
 * them negated (-ECONNREFUSED) so a non-negative result is always a success.
 * Numbers are Linux's (asm-generic/errno-base.h, errno.h).
 */
export const EINVAL = 22;
export const EAGAIN = 11;
export const EMFILE = 24;
export const EPIPE = 32;
export const EADDRINUSE = 98;
export const EADDRNOTAVAIL = 99;
export const ECONNRESET = 104;
export const ENOBUFS = 105;
export const ENOTCONN = 107;
export const ETIMEDOUT = 110;
export const ECONNREFUSED = 111;
export const EHOSTUNREACH = 113;
export const EISCONN = 106;
export const EALREADY = 114;
export const EMSGSIZE = 90;

const NAMES: Record<number, string> = {
  [EINVAL]: "EINVAL",
  [EAGAIN]: "EAGAIN",
  [EMFILE]: "EMFILE",
  [EPIPE]: "EPIPE",
  [EADDRINUSE]: "EADDRINUSE",
  [EADDRNOTAVAIL]: "EADDRNOTAVAIL",
  [ECONNRESET]: "ECONNRESET",
  [ENOBUFS]: "ENOBUFS",
  [ENOTCONN]: "ENOTCONN",
  [ETIMEDOUT]: "ETIMEDOUT",
  [ECONNREFUSED]: "ECONNREFUSED",
  [EHOSTUNREACH]: "EHOSTUNREACH",
  [EISCONN]: "EISCONN",
  [EALREADY]: "EALREADY",
  [EMSGSIZE]: "EMSGSIZE",
};

/** "ECONNREFUSED" for 111 or -111; "E<n>" for numbers without a name; "OK" for 0. */
export function errnoName(n: number): string {
  const v = n < 0 ? -n : n;
  if (v === 0) return "OK";
  return NAMES[v] ?? "E" + v;
}
