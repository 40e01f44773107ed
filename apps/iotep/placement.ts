/**
 * Where the iotep processes run on a small machine (bench iotep, npm start).
 *
 * QStack gives its stack threads their own cores and runs Redis on other
 * cores. Here the orchestrator starts iotepserver, mcc and redis-server on a
 * machine with few cores, so it can do the same within what there is:
 *
 *   split: iotepserver (its stack thread polls the device and runs the app)
 *          alone on CPU 0; redis-server and mcc share the other CPUs. A
 *          request's round trip then never waits for the server's CPU to be
 *          freed by the generator or by Redis, and Redis is woken on a CPU
 *          whose only other tenant is the generator (which is the "client
 *          machine" in a real deployment, not part of the server).
 *   none:  the kernel places everything (all processes float).
 *
 * and redis-server may get a scheduling priority (nice): Redis runs for a few
 * microseconds per command and is on every request's path, so on a shared
 * core it should preempt the generator, not queue behind it. The generator
 * may get a lower one (mcc stands in for remote devices; it should not take
 * a CPU the server under test is waiting for).
 *
 * Real-time priority (chrt -f 1, SCHED_FIFO): the server's thread and Redis
 * preempt every normal task the moment they are woken (a request's bytes, a
 * Redis reply), which is what a latency-critical stack thread and its Redis
 * on a few shared cores need; neither spins (the bench runs the server with
 * --idle-spin-us 0, Redis sleeps in epoll), together they use about half a
 * core at 1 M connections, and the kernel's RT throttling
 * (sched_rt_runtime_us) leaves the rest of each second to normal tasks even
 * if one ran away. bench-run.ts (DEFAULT_RT) says what it measured.
 *
 * iotepserver runs as `chrt -f -R 1` (SCHED_RESET_ON_FORK): its main thread,
 * which polls the device and runs the app, is FIFO; the threads it starts
 * (Bun's JIT and GC helpers, DPDK's control thread) are normal tasks, so they
 * never hold a CPU against Redis or against the main thread at the same
 * priority. Measured (bench iotep --conns 1000000 --setup 60 --epoch 60
 * --kernel-conns 0 --huge --breakdown): with every server thread at FIFO,
 * redis-server waited 0.6-1.0 % of the measured part for a CPU and Redis p99
 * was 0.66-0.72 ms; with -R, Redis waited 0.0 % and Redis p99 0.41 ms
 * (bench-run.ts DEFAULT_RT has the runs).
 *
 * Measured here (bench-run.ts, DEFAULT_PLACEMENT): on a 2-core machine shared
 * with other jobs, split made things far worse (the pinned server cannot move
 * away from the other jobs on CPU 0), and mcc at nice 10 fell behind its
 * schedule (thousands of requests unanswered); so the default is none, nice 0.
 *
 * With one CPU there is nothing to split: placement is "none". The prefixes
 * are `taskset -c LIST` and `nice -n N`, which exec the command (the pid is
 * the process's own).
 */
import { cpus } from "node:os";
import { ConfigError } from "../../src/api/errors";

export type Placement = "split" | "none";

export interface PlacementPlan {
  server: string[];
  client: string[];
  /** Flags for our stack's mcc (--fifo when the client runs under SCHED_FIFO). */
  clientArgs: string[];
  redis: string[];
  /** One line for the log: what runs where and why. */
  describe: string;
}

export function parsePlacement(s: string): Placement {
  if (s === "split" || s === "none") return s;
  throw new ConfigError(`--placement ${s}: expected split or none`);
}

export interface PlacementOptions {
  /** nice of redis-server / mcc (0: unchanged). */
  redisNice?: number;
  clientNice?: number;
  /** Processes run under SCHED_FIFO priority 1 (chrt -f 1): above every normal task. Needs root; ignored (and said so) otherwise. */
  rt?: RtTarget[];
  ncpu?: number;
  /** Whether we may raise priorities (default: running as root). */
  privileged?: boolean;
}

/** client: our stack's mcc (it sleeps between its 1 ms send quanta, so FIFO does not let it spin a core away). */
export type RtTarget = "redis" | "server" | "client";

/** A comma list of redis, server, client, or "none", for --rt. */
export function parseRt(s: string): RtTarget[] {
  if (s === "none" || s === "") return [];
  const out: RtTarget[] = [];
  for (const x of s.split(",")) {
    if (x !== "redis" && x !== "server" && x !== "client") throw new ConfigError(`--rt ${s}: expected none or a comma list of redis, server, client`);
    out.push(x);
  }
  return out;
}

/** Command prefixes per process for `placement`. */
export function planPlacement(placement: Placement, o: PlacementOptions = {}): PlacementPlan {
  const ncpu = o.ncpu ?? cpus().length;
  const redisNice = o.redisNice ?? 0;
  const clientNice = o.clientNice ?? 0;
  const privileged = o.privileged ?? process.getuid?.() === 0;
  const rt = privileged ? (o.rt ?? []) : [];
  const rtSkipped = !privileged && (o.rt ?? []).length > 0 ? ", SCHED_FIFO skipped (not root)" : "";
  const fifo = ["chrt", "-f", "1"];
  const redis = [...(redisNice !== 0 ? ["nice", "-n", String(redisNice)] : []), ...(rt.includes("redis") ? fifo : [])];
  const server = rt.includes("server") ? ["chrt", "-f", "-R", "1"] : [];
  const client = clientNice !== 0 ? ["nice", "-n", String(clientNice)] : [];
  // Not chrt on the command: with mcc's every thread at FIFO (server's too) the memif link never came up
  // (measured: 0 of 10,000 connections opened, twice; with --fifo, opened every time). Suspected, not
  // shown: DPDK's control thread, which runs the memif handshake, inherits FIFO and waits behind our stack
  // thread polling at the same priority (its transmits are deferred while the link is down, so the loop
  // never idles). mcc --fifo raises its main thread alone, once a connection is open.
  const clientArgs = rt.includes("client") ? ["--fifo"] : [];
  const niceText =
    (redisNice !== 0 ? `, redis-server at nice ${redisNice}` : "") +
    (clientNice !== 0 ? `, mcc at nice ${clientNice}` : "") +
    (rt.length > 0 ? `, ${rt.map((x) => (x === "redis" ? "redis-server" : x === "server" ? "iotepserver" : "mcc")).join(" and ")} at SCHED_FIFO 1` : "") +
    (rt.includes("server") ? " (iotepserver's main thread; the threads it starts are normal: chrt -R)" : "") +
    rtSkipped;
  if (placement === "none" || ncpu < 2) {
    return { server, client, clientArgs, redis, describe: `placement none (${ncpu} CPUs, all processes float)${niceText}` };
  }
  const rest = ncpu === 2 ? "1" : `1-${ncpu - 1}`;
  return {
    server: [...server, "taskset", "-c", "0"],
    client: [...client, "taskset", "-c", rest],
    clientArgs,
    redis: [...redis, "taskset", "-c", rest],
    describe: `placement split: iotepserver on CPU 0, redis-server and mcc on CPU ${rest}${niceText}`,
  };
}
