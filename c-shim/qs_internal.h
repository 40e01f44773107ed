/* State shared by the shim's C files. Not part of the FFI surface. */
#ifndef QS_INTERNAL_H
#define QS_INTERNAL_H

#include <stdint.h>
#include <stddef.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_memzone.h>

#include "qstack_shim.h"

#define QS_MAX_POOLS 16

struct qs_pool {
  struct rte_mempool *mp;
  const struct rte_memzone *mz;
  char *base;      /* first byte of the one chunk; handles and offsets count from here */
  size_t span;     /* bytes covering every mbuf */
};

struct qs_port {
  struct rte_mempool *mp;   /* NULL until qs_port_setup succeeds */
  char *base;
  size_t span;
  int pool;
  int guard;                /* bursts take the thread's guard slot (net_memif: see qs_guard.c) */
  int tap_kick;             /* net_tap: its Rx-trigger signal, raised on empty bursts to re-arm its reader (qs_port.c); 0 = off */
  uint64_t tap_kick_tsc;    /* TSC of the last re-arm (relaxed atomics) */
  uint64_t rx_dropped;      /* updated with relaxed atomics: queues may run on several threads */
  uint64_t tx_unsent;
  uint64_t tx_bad;
};

extern struct qs_pool qs_pools[QS_MAX_POOLS];
extern struct qs_port qs_ports[RTE_MAX_ETHPORTS];

/* Record a message for qs_last_error() and return -err (err > 0). */
int qs_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Transmit pkts[0..n) with a few retries while the PMD makes progress; free
 * and count what it did not take. Returns the number sent. */
int qs_tx_mbufs(int port, int queue, struct rte_mbuf **pkts, int n);

/* qs_guard.c: exclusion between bursts and PMD control callbacks. */
int qs_guard_install(void);
int qs_guard_enter(void);
void qs_guard_exit(int slot);

#endif
