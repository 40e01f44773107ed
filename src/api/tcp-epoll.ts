/**
 * The low-level sockets API for apps that hold very many connections: TCP by
 * connection id (no JS object per connection) with epoll-like readiness and a
 * priority per event (QStack's qepoll). Connection ids are the epoll ids;
 * listener L is epoll id `listenerId(L)` (after the connection ids).
 *
 * Readiness follows epoll(7): Readable -> EPOLLIN, send space -> EPOLLOUT,
 * the peer's FIN -> EPOLLIN | EPOLLRDHUP, reset/timeout -> EPOLLERR | EPOLLHUP,
 * orderly close -> EPOLLHUP, a connection waiting to be accepted -> EPOLLIN on
 * the listener. Each notification carries the priority class of the frame that
 * caused it (Stack.rxClass), so `wait` hands out events of high-priority packets
 * first. Level-triggered registrations are checked against the connection's
 * current state before each report, so an app need not clear anything.
 *
 *   const ep = new TcpEpoll(stack, { maxConnections: 1_000_000 });
 *   const l = ep.listen(0, 80, 4096);
 *   ep.poll.ctl("add", l, EPOLLIN, 1);
 *   ... const n = ep.poll.wait(out, 64); for each (id, events): accept / recv / send by id
 */
import { TcpEvent, TcpLayer, type TcpEventSink } from "../tcp/tcp-layer";
import { makeTcpConfig, type TcpConfig } from "../tcp/config";
import { TcpState } from "../tcp/state";
import { cryptoRng } from "../net/seeded-rng";
import { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLOUT, EPOLLRDHUP, EventPoll } from "../sched/event-poll";
import type { Stack } from "./stack";

export { EPOLLERR, EPOLLET, EPOLLHUP, EPOLLIN, EPOLLONESHOT, EPOLLOUT, EPOLLRDHUP } from "../sched/event-poll";

export class TcpEpoll implements TcpEventSink {
  readonly tcp: TcpLayer;
  readonly poll: EventPoll;
  /** First epoll id used for listeners. */
  readonly listenerBase: number;

  constructor(
    private readonly stack: Stack,
    config: Partial<TcpConfig> = {},
    opts: { rng?: () => number; classes?: number; onReady?: () => void } = {},
  ) {
    const cfg = makeTcpConfig(config);
    this.listenerBase = cfg.maxConnections;
    this.poll = new EventPoll({
      capacity: cfg.maxConnections + cfg.maxListeners,
      classes: opts.classes ?? Math.max(2, stack.classes),
      readiness: (id) => this.readiness(id),
      onReady: opts.onReady,
    });
    this.tcp = new TcpLayer({ config: cfg, tx: stack.netif.out, rng: opts.rng ?? cryptoRng(), nowUs: stack.loop.clock(), events: this });
    stack.setTransport(this.tcp);
  }

  /** The epoll id of listener `l`. */
  listenerId(l: number): number {
    return this.listenerBase + l;
  }

  /** Listen on (ip 0 = every local address, port); returns the listener's epoll id or a negative errno. */
  listen(localIp: number, port: number, backlog: number): number {
    const l = this.tcp.listen(localIp, port, backlog);
    return l < 0 ? l : this.listenerBase + l;
  }

  /** Accept from a listener's epoll id; a connection id, or -1 when none waits. */
  accept(listenerEpollId: number): number {
    return this.tcp.accept(listenerEpollId - this.listenerBase);
  }

  /** TcpEventSink: turn TCP events into readiness, in the class of the frame behind them. */
  event(id: number, kind: number, arg: number): void {
    const cls = this.stack.rxClass;
    const ep = this.poll;
    switch (kind) {
      case TcpEvent.Readable:
        ep.notify(id, EPOLLIN, cls);
        return;
      case TcpEvent.Writable:
      case TcpEvent.Connected:
        ep.notify(id, EPOLLOUT, cls);
        return;
      case TcpEvent.Accept:
        ep.notify(this.listenerBase + id, EPOLLIN, cls);
        return;
      case TcpEvent.PeerFin:
        ep.notify(id, EPOLLIN | EPOLLRDHUP, cls);
        return;
      case TcpEvent.Closed:
        ep.notify(id, arg < 0 ? EPOLLERR | EPOLLHUP : EPOLLHUP, cls);
        return;
    }
  }

  /** What is true of `id` now (consulted before level-triggered reports). */
  readiness(id: number): number {
    const t = this.tcp;
    if (id >= this.listenerBase) {
      const l = id - this.listenerBase;
      return t.listeners.isOpen(l) && t.listeners.acceptCount[l]! > 0 ? EPOLLIN : 0;
    }
    if (!t.conns.isUsed(id)) return EPOLLHUP;
    let ev = 0;
    const st = t.state(id);
    if (t.recvAvailable(id) > 0) ev |= EPOLLIN;
    if (st === TcpState.Closed) {
      ev |= EPOLLHUP | EPOLLIN;
      if (t.error(id) !== 0) ev |= EPOLLERR;
      return ev;
    }
    if (t.peerFinReceived(id)) ev |= EPOLLIN | EPOLLRDHUP;
    if (st !== TcpState.SynSent && st !== TcpState.SynReceived && t.sendSpace(id) > 0) ev |= EPOLLOUT;
    return ev;
  }
}
