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

export type Placement = "split" | "none";

export interface PlacementPlan {
  server: string[];
  client: string[];
  redis: string[];
  /** One line for the log: what runs where and why. */
  describe: string;
}

export function parsePlacement(s: string): Placement {
  if (s === "split" || s === "none") return s;
  throw new RangeError(`placement ${s}: expected split or none`);
}

/** Command prefixes per process for `placement` on `ncpu` CPUs, Redis and mcc at nice `redisNice` / `clientNice` (0: unchanged). */
export function planPlacement(placement: Placement, redisNice: number, ncpu: number = cpus().length, clientNice = 0): PlacementPlan {
  const nice = redisNice !== 0 ? ["nice", "-n", String(redisNice)] : [];
  const cnice = clientNice !== 0 ? ["nice", "-n", String(clientNice)] : [];
  const niceText = (redisNice !== 0 ? `, redis-server at nice ${redisNice}` : "") + (clientNice !== 0 ? `, mcc at nice ${clientNice}` : "");
  if (placement === "none" || ncpu < 2) {
    return { server: [], client: cnice, redis: nice, describe: `placement none (${ncpu} CPUs, all processes float)${niceText}` };
  }
  const rest = ncpu === 2 ? "1" : `1-${ncpu - 1}`;
  return {
    server: ["taskset", "-c", "0"],
    client: [...cnice, "taskset", "-c", rest],
    redis: [...nice, "taskset", "-c", rest],
    describe: `placement split: iotepserver on CPU 0, redis-server and mcc on CPU ${rest}${niceText}`,
  };
}
