/**
 * The iotepserver logic (server.ts) on our stack through TcpEpoll: TCP by
 * connection id with prioritized epoll-like events (QStack's qepoll), so the
 * server holds no JS object per connection and 1 M connections cost only
 * typed-array slots.
 *
 * Each poll round (an app stage of the stack, after receive and TCP timers)
 * asks `wait` for ready ids; events of high-priority frames (requests, class
 * 0 from the iotep classifier) come out before those of heartbeats, so the
 * request bytes reach the server's queues first and the server's pump admits
 * them to Redis first. Before that, right after a burst's class-0 frames went
 * through TCP, pollHigh takes the high-priority events alone (the stack's
 * high-priority pass), so requests are in Redis while TCP still works
 * through the burst's heartbeats. Listeners are accepted from, connections
 * are read dry into one scratch buffer and framed by the server.
 *
 * Redis commands issued in a round go out on the next tick (ioredis'
 * auto-pipeline flushes on process.nextTick), so a round that issued any asks
 * the poll loop to yield after it (PollLoop.yieldSoon) instead of running up
 * to burstsPerYield more rounds first.
 *
 * Likewise while a request is in Redis (`yieldForReplies`, on by default;
 * iotepserver --reply-yield): Bun reads the Redis socket only between two
 * setImmediate steps of the poll loop, so a reply that arrives while the loop
 * runs a step of up to burstsPerYield busy rounds waits for the whole step
 * before its callback writes the client's reply. With a request outstanding
 * every round ends the step (PollLoop.yieldSoon), so the reply waits for one
 * round at most; the price is one setImmediate turn per round during that
 * time (~2 us each, FACTS.md). Heartbeats' replies write nothing to the client
 * and do not count.
 *
 * Replies are written from ioredis callbacks, outside the poll round: the
 * bytes go into TCP's send queue at once, `stack.transmitSoon()` puts them on
 * the wire after the callbacks of that socket read (not after the next
 * round's rx burst), and `stack.loop.wake()` cuts an idle sleep short. Bytes
 * the send buffer cannot take are owed (OwedReplies) and written when EPOLLOUT
 * reports space.
 *
 * Awake while a request is in Redis (`awakeForRequests`, iotepserver
 * --redis-wait awake; off by default): the poll loop does not take its idle
 * sleep (a setTimeout of >= 1 ms) while a request's Redis call is
 * outstanding; pollAt() says "now", so the loop keeps stepping through
 * setImmediate, and Bun's event loop polls the Redis socket between steps.
 * Measured on this 2-vCPU VM (an ioredis EVALSHA round trip from a Bun loop
 * shaped like ours, 1,500 calls each, redis-server and the client at
 * SCHED_FIFO 1): sleeping between rounds p50 202 us, awake while the call is
 * out p50 107 us. But at 1 M connections (bench iotep, requests on their own
 * Redis connection) it did not pay: awake, wire request p99 1.077, 0.975,
 * 1.007 ms with p99.9 17-31 ms (mcc waited 11-18 % for a CPU); sleeping,
 * 0.996 ms with p99.9 3.4 ms (mcc 7.6 %). A loop that sleeps in epoll_wait
 * is woken by the reply anyway (Bun's timers and sockets share one epoll).
 */
import { EAGAIN } from "../../src/tcp/errno";
import { EPOLLIN, EPOLLOUT, EPOLLRDHUP, type TcpEpoll } from "../../src/api/tcp-epoll";
import type { Stack } from "../../src/api/stack";
import { MIN_REGISTERED_BYTES } from "../../src/mem/native-mem";
import type { PollStage } from "../../src/sched/poll-loop";
import type { WaitOptions } from "../../src/sched/event-poll";
import type { IotepServer, ReplySink } from "./server";
import { OwedReplies, type ServedHandle } from "./server-transports";

const CONN_EVENTS = EPOLLIN | EPOLLRDHUP;
/** Ids handed out per wait call; wait is called again until it returns none. */
const WAIT_MAX = 64;
/** wait() options of the high-priority pass: class-0 events only. */
const HIGH_ONLY = { lowBatch: 0 };

export class EpollServer implements PollStage, ReplySink, ServedHandle {
  private readonly out = new Int32Array(2 * WAIT_MAX);
  /**
   * Where connections are read into: big enough for native-mem.ts to register
   * it, so TCP copies into it natively; a smaller one costs a view object per
   * recv (subarray + set, chunk-queue.ts), 4 % of the server's profile at
   * 300 k connections and garbage for the sweeper.
   */
  private readonly buf = new Uint8Array(MIN_REGISTERED_BYTES);
  /** Per connection id: 1 while the server sees it open. */
  private readonly open: Uint8Array;
  private readonly owed = new OwedReplies();
  private readonly listeners: number[] = [];
  private openCount = 0;
  /** Replies written since the loop was last woken. */
  private wroteSinceWake = false;
  /** Keep the poll loop from sleeping while a request is in Redis (see the file comment). */
  awakeForRequests = false;
  /** End every poll step after one round while a request is in Redis (see the file comment). */
  yieldForReplies = true;
  readonly port: number;

  constructor(
    private readonly server: IotepServer,
    private readonly ep: TcpEpoll,
    private readonly stack: Stack,
    port: number,
    ports = 1,
    backlog = 65535,
  ) {
    this.port = port;
    this.open = new Uint8Array(ep.listenerBase);
    for (let k = 0; k < ports; k++) {
      const l = ep.listen(0, port + k, backlog);
      if (l < 0) throw new Error(`listen on port ${port + k} failed (errno ${-l})`);
      ep.poll.ctl("add", l, EPOLLIN, 0);
      this.listeners.push(l);
    }
    stack.addAppStage(this);
  }

  get openConnections(): number {
    return this.openCount;
  }

  poll(_nowUs: number): number {
    const calls = this.server.storeCalls;
    const work = this.takeEvents(undefined);
    this.server.pump();
    if (this.server.storeCalls !== calls || (this.yieldForReplies && this.server.requestsInFlight > 0)) this.stack.loop.yieldSoon();
    this.wroteSinceWake = false;
    return work;
  }

  /**
   * Between the burst's class-0 frames and the rest (the stack's
   * high-priority pass): the ready high-priority ids only, then the pump, so
   * a request's Redis call is written before TCP works through the burst's
   * heartbeats.
   */
  pollHigh(_nowUs: number): number {
    const work = this.takeEvents(HIGH_ONLY);
    if (work > 0) this.server.pump();
    return work;
  }

  /** Serve ready ids (all classes, or as `opts` limits) until wait has none; returns how many. */
  private takeEvents(opts: WaitOptions | undefined): number {
    const ep = this.ep;
    const out = this.out;
    let work = 0;
    for (;;) {
      const n = ep.poll.wait(out, WAIT_MAX, opts);
      if (n === 0) break;
      work += n;
      for (let i = 0; i < n; i++) {
        const id = out[2 * i]!;
        if (id >= ep.listenerBase) this.acceptAll(id);
        else this.onConn(id, out[2 * i + 1]!);
      }
    }
    return work;
  }

  pollAt(): number {
    return this.awakeForRequests && this.server.requestsInFlight > 0 ? 0 : Number.POSITIVE_INFINITY;
  }

  private acceptAll(l: number): void {
    const ep = this.ep;
    for (;;) {
      const c = ep.accept(l);
      if (c < 0) return;
      this.open[c] = 1;
      this.openCount++;
      this.owed.reset(c);
      ep.tcp.setNoDelay(c, true);
      this.server.open(c);
      ep.poll.ctl("add", c, CONN_EVENTS, 1);
      // Data may have come with the handshake's last ACK.
      this.readAll(c);
    }
  }

  private onConn(c: number, ev: number): void {
    if (this.open[c] !== 1) return;
    if ((ev & EPOLLOUT) !== 0) this.flushOwed(c);
    const r = this.readAll(c);
    // 0: the peer's FIN after all its data; other negatives but EAGAIN: reset or timed out.
    if (r === 0 || (r < 0 && r !== -EAGAIN)) this.drop(c);
  }

  /** Read until TCP has nothing; returns the last recv result (-EAGAIN: more may come, 0: end, < 0: error). */
  private readAll(c: number): number {
    const tcp = this.ep.tcp;
    const buf = this.buf;
    for (;;) {
      const n = tcp.recv(c, buf, 0, buf.length);
      if (n <= 0) return n;
      this.server.data(c, buf, 0, n);
    }
  }

  /** The peer closed (or reset): forget the connection and give its id back to TCP. */
  private drop(c: number): void {
    this.open[c] = 0;
    this.openCount--;
    this.ep.poll.ctl("del", c);
    this.server.close(c);
    this.ep.tcp.close(c);
  }

  private flushOwed(c: number): void {
    const tcp = this.ep.tcp;
    if (this.owed.flush(c, (b, off, len) => tcp.send(c, b, off, len))) this.ep.poll.ctl("mod", c, CONN_EVENTS, 1);
  }

  /** ReplySink: called from ioredis callbacks. */
  reply(conn: number, buf: Uint8Array, len: number): boolean {
    if (this.open[conn] !== 1) return false;
    if (this.owed.has(conn)) {
      this.owed.add(conn, len);
      return true;
    }
    const n = this.ep.tcp.send(conn, buf, 0, len);
    if (n < 0) return false;
    if (n < len) {
      this.owed.add(conn, len - n);
      this.ep.poll.ctl("mod", conn, CONN_EVENTS | EPOLLOUT, 1);
    }
    this.stack.transmitSoon();
    if (!this.wroteSinceWake) {
      this.wroteSinceWake = true;
      this.stack.loop.wake();
    }
    return true;
  }

  stopListening(): void {
    for (const l of this.listeners) {
      this.ep.poll.ctl("del", l);
      this.ep.tcp.closeListener(l - this.ep.listenerBase);
    }
    this.listeners.length = 0;
  }

  closeAll(): void {
    const tcp = this.ep.tcp;
    for (let c = 0; c < this.open.length; c++) if (this.open[c] === 1) tcp.shutdown(c);
  }
}
