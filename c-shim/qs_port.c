/*
 * qstack_shim: ports (probe, setup, MAC/MTU/link/stats, stop/close) and the
 * rx/tx bursts over the shared descriptor array (see qstack_shim.h).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "qs_internal.h"

static int tap_trigger_signal(void);
static int qs_port_ok(int port) { return port >= 0 && port < RTE_MAX_ETHPORTS && rte_eth_dev_is_valid_port((uint16_t)port); }

int qs_dev_probe(const char *devargs) {
  if (devargs == NULL || devargs[0] == 0) return qs_fail(EINVAL, "qs_dev_probe: empty devargs");
  int ret = rte_dev_probe(devargs);
  if (ret < 0) return qs_fail(-ret, "cannot attach device %s: %s", devargs, rte_strerror(-ret));
  return 0;
}

int qs_port_by_name(const char *name) {
  uint16_t id;
  if (name == NULL) return qs_fail(EINVAL, "qs_port_by_name: no name");
  int ret = rte_eth_dev_get_port_by_name(name, &id);
  if (ret < 0) return qs_fail(ENODEV, "no DPDK port named %s", name);
  return id;
}

int qs_port_count(void) { return (int)rte_eth_dev_count_avail(); }

int qs_port_setup(int port, int pool, int nrxq, int ntxq, int rxdesc, int txdesc, int promisc) {
  if (!qs_port_ok(port)) return qs_fail(ENODEV, "no port %d", port);
  if (pool < 0 || pool >= QS_MAX_POOLS || qs_pools[pool].mp == NULL) return qs_fail(EINVAL, "no pool %d", pool);
  if (nrxq <= 0 || ntxq <= 0 || rxdesc <= 0 || txdesc <= 0) return qs_fail(EINVAL, "qs_port_setup: bad queue counts");
  uint16_t pid = (uint16_t)port;
  struct rte_eth_dev_info info;
  int ret = rte_eth_dev_info_get(pid, &info);
  if (ret != 0) return qs_fail(-ret, "rte_eth_dev_info_get(%d): %s", port, rte_strerror(-ret));
  if (nrxq > info.max_rx_queues || ntxq > info.max_tx_queues)
    return qs_fail(EINVAL, "port %d (%s) supports at most %u rx / %u tx queues, asked %d / %d", port,
                   info.driver_name, info.max_rx_queues, info.max_tx_queues, nrxq, ntxq);

  struct rte_eth_conf conf;
  memset(&conf, 0, sizeof(conf));
  if (nrxq > 1) {
    /* RSS where the PMD offers it; virtual PMDs without it (af_packet: kernel
     * fanout, memif: one ring per queue) spread over their queues themselves. */
    uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    if (hf != 0) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_hf = hf;
    }
  }
  /* Our mbufs always have refcnt 1 and come from one pool per port. */
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
  ret = rte_eth_dev_configure(pid, (uint16_t)nrxq, (uint16_t)ntxq, &conf);
  if (ret < 0) return qs_fail(-ret, "rte_eth_dev_configure(port %d): %s", port, rte_strerror(-ret));
  uint16_t nrx = (uint16_t)rxdesc, ntx = (uint16_t)txdesc;
  ret = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntx);
  if (ret < 0) return qs_fail(-ret, "rte_eth_dev_adjust_nb_rx_tx_desc: %s", rte_strerror(-ret));
  int socket = rte_eth_dev_socket_id(pid);
  if (socket < 0) socket = SOCKET_ID_ANY;
  for (int q = 0; q < nrxq; q++) {
    ret = rte_eth_rx_queue_setup(pid, (uint16_t)q, nrx, (unsigned)socket, NULL, qs_pools[pool].mp);
    if (ret < 0) return qs_fail(-ret, "rte_eth_rx_queue_setup(port %d, q %d): %s", port, q, rte_strerror(-ret));
  }
  for (int q = 0; q < ntxq; q++) {
    ret = rte_eth_tx_queue_setup(pid, (uint16_t)q, ntx, (unsigned)socket, NULL);
    if (ret < 0) return qs_fail(-ret, "rte_eth_tx_queue_setup(port %d, q %d): %s", port, q, rte_strerror(-ret));
  }
  struct qs_port *p = &qs_ports[port];
  memset(p, 0, sizeof(*p));
  p->mp = qs_pools[pool].mp;
  p->base = qs_pools[pool].base;
  p->span = qs_pools[pool].span;
  p->pool = pool;
  p->guard = strcmp(info.driver_name, "net_memif") == 0;
  ret = rte_eth_dev_start(pid);
  if (ret < 0) {
    p->mp = NULL;
    return qs_fail(-ret, "rte_eth_dev_start(port %d, %s): %s", port, info.driver_name, rte_strerror(-ret));
  }
  /* After start: the tap PMD installs its SIGIO handler when it opens the queue fds. */
  p->tap_kick = strcmp(info.driver_name, "net_tap") == 0 ? tap_trigger_signal() : 0;
  if (promisc) {
    ret = rte_eth_promiscuous_enable(pid);
    if (ret < 0 && ret != -ENOTSUP) return qs_fail(-ret, "rte_eth_promiscuous_enable: %s", rte_strerror(-ret));
  }
  return 0;
}

int qs_port_pool(int port) {
  if (port < 0 || port >= RTE_MAX_ETHPORTS || qs_ports[port].mp == NULL) return qs_fail(EINVAL, "port %d is not set up", port);
  return qs_ports[port].pool;
}

int qs_port_mac(int port, uint8_t *out6) {
  if (!qs_port_ok(port) || out6 == NULL) return qs_fail(EINVAL, "qs_port_mac: bad arguments");
  struct rte_ether_addr a;
  int ret = rte_eth_macaddr_get((uint16_t)port, &a);
  if (ret < 0) return qs_fail(-ret, "rte_eth_macaddr_get: %s", rte_strerror(-ret));
  memcpy(out6, a.addr_bytes, 6);
  return 0;
}

/* Set the port's MAC (--mac). Some virtual PMDs refuse: the caller then keeps
 * promiscuous mode and uses the address in software. */
int qs_port_set_mac(int port, const uint8_t *mac6) {
  if (!qs_port_ok(port) || mac6 == NULL) return qs_fail(EINVAL, "qs_port_set_mac: bad arguments");
  struct rte_ether_addr a;
  memcpy(a.addr_bytes, mac6, 6);
  int ret = rte_eth_dev_default_mac_addr_set((uint16_t)port, &a);
  if (ret < 0) return qs_fail(-ret, "rte_eth_dev_default_mac_addr_set: %s", rte_strerror(-ret));
  return 0;
}

int qs_port_mtu(int port) {
  uint16_t mtu;
  if (!qs_port_ok(port)) return qs_fail(ENODEV, "no port %d", port);
  int ret = rte_eth_dev_get_mtu((uint16_t)port, &mtu);
  if (ret < 0) return qs_fail(-ret, "rte_eth_dev_get_mtu: %s", rte_strerror(-ret));
  return mtu;
}

int qs_port_driver(int port, char *buf, int len) {
  struct rte_eth_dev_info info;
  if (!qs_port_ok(port) || buf == NULL || len <= 0) return qs_fail(EINVAL, "qs_port_driver: bad arguments");
  int ret = rte_eth_dev_info_get((uint16_t)port, &info);
  if (ret != 0) return qs_fail(-ret, "rte_eth_dev_info_get: %s", rte_strerror(-ret));
  snprintf(buf, (size_t)len, "%s", info.driver_name ? info.driver_name : "");
  return (int)strnlen(buf, (size_t)len);
}

int qs_link_up(int port) {
  struct rte_eth_link link;
  if (!qs_port_ok(port)) return qs_fail(ENODEV, "no port %d", port);
  memset(&link, 0, sizeof(link));
  int ret = rte_eth_link_get_nowait((uint16_t)port, &link);
  if (ret < 0) return qs_fail(-ret, "rte_eth_link_get_nowait: %s", rte_strerror(-ret));
  return link.link_status == RTE_ETH_LINK_UP;
}

int qs_port_stats(int port, double *out) {
  struct rte_eth_stats s;
  if (!qs_port_ok(port) || out == NULL) return qs_fail(EINVAL, "qs_port_stats: bad arguments");
  int ret = rte_eth_stats_get((uint16_t)port, &s);
  if (ret < 0) return qs_fail(-ret, "rte_eth_stats_get: %s", rte_strerror(-ret));
  struct qs_port *p = &qs_ports[port];
  out[QS_S_IPACKETS] = (double)s.ipackets;
  out[QS_S_OPACKETS] = (double)s.opackets;
  out[QS_S_IBYTES] = (double)s.ibytes;
  out[QS_S_OBYTES] = (double)s.obytes;
  out[QS_S_IMISSED] = (double)s.imissed;
  out[QS_S_IERRORS] = (double)s.ierrors;
  out[QS_S_OERRORS] = (double)s.oerrors;
  out[QS_S_RX_NOMBUF] = (double)s.rx_nombuf;
  out[QS_S_RX_DROPPED] = (double)__atomic_load_n(&p->rx_dropped, __ATOMIC_RELAXED);
  out[QS_S_TX_UNSENT] = (double)__atomic_load_n(&p->tx_unsent, __ATOMIC_RELAXED);
  out[QS_S_TX_BAD] = (double)__atomic_load_n(&p->tx_bad, __ATOMIC_RELAXED);
  return QS_STATS_N;
}

int qs_port_stats_reset(int port) {
  if (!qs_port_ok(port)) return qs_fail(ENODEV, "no port %d", port);
  int ret = rte_eth_stats_reset((uint16_t)port);
  struct qs_port *p = &qs_ports[port];
  __atomic_store_n(&p->rx_dropped, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&p->tx_unsent, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&p->tx_bad, 0, __ATOMIC_RELAXED);
  return ret < 0 && ret != -ENOTSUP ? qs_fail(-ret, "rte_eth_stats_reset: %s", rte_strerror(-ret)) : 0;
}

int qs_port_stop(int port) {
  if (!qs_port_ok(port)) return qs_fail(ENODEV, "no port %d", port);
  /* Guarded ports (memif) stop under the guard: see qs_guard.c. memif's stop never waits for the interrupt thread. */
  int g = qs_ports[port].guard ? qs_guard_enter() : -1;
  int ret = rte_eth_dev_stop((uint16_t)port);
  if (g >= 0) qs_guard_exit(g);
  if (ret < 0) return qs_fail(-ret, "rte_eth_dev_stop(%d): %s", port, rte_strerror(-ret));
  return 0;
}

int qs_port_close(int port, int remove) {
  if (!qs_port_ok(port)) return qs_fail(ENODEV, "no port %d", port);
  struct rte_eth_dev_info info;
  struct rte_device *dev = NULL;
  if (rte_eth_dev_info_get((uint16_t)port, &info) == 0) dev = info.device;
  int g = qs_ports[port].guard ? qs_guard_enter() : -1;
  int ret = rte_eth_dev_close((uint16_t)port);
  if (g >= 0) qs_guard_exit(g);
  memset(&qs_ports[port], 0, sizeof(qs_ports[port]));
  if (ret < 0) return qs_fail(-ret, "rte_eth_dev_close(%d): %s", port, rte_strerror(-ret));
  if (remove && dev != NULL) {
    ret = rte_dev_remove(dev);
    if (ret < 0 && ret != -ENOENT) return qs_fail(-ret, "rte_dev_remove(port %d): %s", port, rte_strerror(-ret));
  }
  return 0;
}

/* ---------------------------------------------------------------- bursts */

/*
 * net_tap stall after a full kernel queue (DPDK 22.11 drivers/net/tap): the PMD reads its tun fd
 * only when a counter bumped by its Rx-trigger signal handler has moved since the last burst that
 * came back short. The trigger is a real-time signal the PMD picks and asks tun to send (F_SETSIG)
 * when it queues a frame. Once a flood (or an exhausted mbuf pool) has left the tun queue full,
 * tun drops every new frame before signalling, no signal comes, the queue is never read again and
 * the port receives nothing for good. Re-arming: while bursts come back empty, raise the PMD's
 * trigger signal in this thread at most once per millisecond; its handler bumps the counter and
 * the next burst reads the fd again (a read that finds it empty costs one syscall).
 * The signal is found as the one whose handler lives in the tap PMD's library (dladdr); when none
 * is found the re-arm stays off.
 */
static int tap_trigger_signal(void) {
  for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) continue;
    void *h = (sa.sa_flags & SA_SIGINFO) ? (void *)sa.sa_sigaction : (void *)sa.sa_handler;
    if (h == (void *)SIG_DFL || h == (void *)SIG_IGN) continue;
    Dl_info di;
    if (dladdr(h, &di) != 0 && di.dli_fname != NULL && strstr(di.dli_fname, "net_tap") != NULL) return sig;
  }
  return 0;
}

static void tap_rearm(struct qs_port *p) {
  uint64_t now = rte_rdtsc();
  uint64_t last = __atomic_load_n(&p->tap_kick_tsc, __ATOMIC_RELAXED);
  if (now - last < rte_get_tsc_hz() / 1000) return;
  __atomic_store_n(&p->tap_kick_tsc, now, __ATOMIC_RELAXED);
  raise(p->tap_kick);
}

int qs_rx_burst(int port, int queue, uint32_t *words, int capacity, int start) {
  if (unlikely((unsigned)port >= RTE_MAX_ETHPORTS || qs_ports[port].mp == NULL))
    return qs_fail(EINVAL, "qs_rx_burst: port %d is not set up", port);
  struct qs_port *p = &qs_ports[port];
  int room = capacity - start;
  if (room <= 0 || start < 0) return 0;
  if (room > QS_MAX_BURST) room = QS_MAX_BURST;
  struct rte_mbuf *m[QS_MAX_BURST];
  uint16_t n;
  if (p->guard) {
    int g = qs_guard_enter();
    n = rte_eth_rx_burst((uint16_t)port, (uint16_t)queue, m, (uint16_t)room);
    qs_guard_exit(g);
  } else {
    n = rte_eth_rx_burst((uint16_t)port, (uint16_t)queue, m, (uint16_t)room);
  }
  if (unlikely(n == 0 && p->tap_kick)) tap_rearm(p);
  uint32_t *h = words + start, *o = words + capacity + start, *l = words + 2 * capacity + start;
  char *base = p->base;
  struct rte_mempool *mp = p->mp;
  int k = 0, bad = 0;
  for (uint16_t i = 0; i < n; i++) {
    struct rte_mbuf *b = m[i];
    /* A chained frame cannot be one (offset, length); a foreign-pool mbuf is outside our view. */
    if (unlikely(b->nb_segs != 1 || b->pool != mp)) {
      rte_pktmbuf_free(b);
      bad++;
      continue;
    }
    h[k] = (uint32_t)((char *)b - base);
    o[k] = (uint32_t)((char *)b->buf_addr + b->data_off - base);
    l[k] = b->data_len;
    k++;
  }
  if (unlikely(bad)) __atomic_fetch_add(&p->rx_dropped, (uint64_t)bad, __ATOMIC_RELAXED);
  return k;
}

int qs_tx_mbufs(int port, int queue, struct rte_mbuf **pkts, int n) {
  int sent = 0;
  int g = qs_ports[port].guard ? qs_guard_enter() : -1;
  for (int tries = 0; sent < n && tries < 4; tries++) {
    uint16_t k = rte_eth_tx_burst((uint16_t)port, (uint16_t)queue, pkts + sent, (uint16_t)(n - sent));
    if (k == 0) break;
    sent += k;
  }
  if (g >= 0) qs_guard_exit(g);
  if (unlikely(sent < n)) {
    rte_pktmbuf_free_bulk(pkts + sent, (unsigned)(n - sent));
    __atomic_fetch_add(&qs_ports[port].tx_unsent, (uint64_t)(n - sent), __ATOMIC_RELAXED);
  }
  return sent;
}

/* Like qs_tx_burst, but frames the PMD does not take (its ring is full) stay with
 * the caller: their descriptors are moved, in order, to the front of `words` and
 * their number is stored in *left, so the stack can retry them next round
 * instead of losing them (TCP would otherwise wait for a retransmission timeout).
 * Invalid descriptors are freed and counted as before. Returns frames sent. */
int qs_tx_burst_keep(int port, int queue, uint32_t *words, int capacity, int n, int32_t *left) {
  if (unlikely((unsigned)port >= RTE_MAX_ETHPORTS || qs_ports[port].mp == NULL || left == NULL))
    return qs_fail(EINVAL, "qs_tx_burst_keep: port %d is not set up", port);
  if (n > capacity) n = capacity;
  struct qs_port *p = &qs_ports[port];
  uint32_t *h = words, *o = words + capacity, *l = words + 2 * capacity;
  char *base = p->base;
  size_t span = p->span;
  struct rte_mbuf *m[QS_MAX_BURST];
  int idx[QS_MAX_BURST];
  int sent = 0, bad = 0, w = 0, full = 0;
  for (int i = 0; i < n;) {
    if (full) { /* the ring is full: keep everything not yet tried */
      h[w] = h[i]; o[w] = o[i]; l[w] = l[i]; w++; i++;
      continue;
    }
    int k = 0;
    for (; i < n && k < QS_MAX_BURST; i++) {
      if (unlikely(h[i] >= span)) { bad++; continue; }
      struct rte_mbuf *b = (struct rte_mbuf *)(base + h[i]);
      uint32_t bufstart = (uint32_t)((char *)b->buf_addr - base);
      uint32_t doff = o[i] - bufstart, len = l[i];
      if (unlikely(doff > b->buf_len || len > (uint32_t)b->buf_len - doff || len == 0)) {
        rte_pktmbuf_free(b);
        bad++;
        continue;
      }
      b->data_off = (uint16_t)doff;
      b->data_len = (uint16_t)len;
      b->pkt_len = len;
      b->ol_flags = 0;
      idx[k] = i;
      m[k++] = b;
    }
    int g = p->guard ? qs_guard_enter() : -1;
    uint16_t got = k > 0 ? rte_eth_tx_burst((uint16_t)port, (uint16_t)queue, m, (uint16_t)k) : 0;
    if (g >= 0) qs_guard_exit(g);
    sent += got;
    if (got < k) {
      full = 1;
      for (int j = got; j < k; j++) {
        int s = idx[j];
        h[w] = h[s]; o[w] = o[s]; l[w] = l[s]; w++;
      }
    }
  }
  if (unlikely(bad)) __atomic_fetch_add(&p->tx_bad, (uint64_t)bad, __ATOMIC_RELAXED);
  *left = w;
  return sent;
}

int qs_tx_burst(int port, int queue, uint32_t *words, int capacity, int n) {
  if (unlikely((unsigned)port >= RTE_MAX_ETHPORTS || qs_ports[port].mp == NULL))
    return qs_fail(EINVAL, "qs_tx_burst: port %d is not set up", port);
  if (n > capacity) n = capacity;
  struct qs_port *p = &qs_ports[port];
  const uint32_t *h = words, *o = words + capacity, *l = words + 2 * capacity;
  char *base = p->base;
  size_t span = p->span;
  struct rte_mbuf *m[QS_MAX_BURST];
  int sent = 0, bad = 0;
  for (int i = 0; i < n;) {
    int k = 0;
    for (; i < n && k < QS_MAX_BURST; i++) {
      if (unlikely(h[i] >= span)) { bad++; continue; } /* not an mbuf of ours: cannot even free it */
      struct rte_mbuf *b = (struct rte_mbuf *)(base + h[i]);
      uint32_t bufstart = (uint32_t)((char *)b->buf_addr - base);
      uint32_t doff = o[i] - bufstart, len = l[i];
      if (unlikely(doff > b->buf_len || len > (uint32_t)b->buf_len - doff || len == 0)) {
        rte_pktmbuf_free(b);
        bad++;
        continue;
      }
      b->data_off = (uint16_t)doff;
      b->data_len = (uint16_t)len;
      b->pkt_len = len;
      /* nb_segs == 1 and next == NULL hold already (rx drops chains; fresh mbufs are single):
       * writing next would touch the mbuf's second cache line for nothing. */
      b->ol_flags = 0;
      m[k++] = b;
    }
    sent += qs_tx_mbufs(port, queue, m, k);
  }
  if (unlikely(bad)) __atomic_fetch_add(&p->tx_bad, (uint64_t)bad, __ATOMIC_RELAXED);
  return sent;
}

/* ------------------------------------------------------------ RSS lookup */

/* The port's RSS hash key and redirection table, so software can tell which queue
 * a flow reaches (src/sched/multi/toeplitz.ts; active opens on a stack thread pick
 * local ports that come back to their own queue). Writes the key into key[0..key_cap)
 * and its length into *key_len, the table into reta[0..reta_cap); returns the table
 * size. -ENOTSUP when the device does not report them (virtual PMDs: af_packet
 * spreads by the kernel's fanout hash, tap by the kernel's flow steering). */
int qs_port_rss(int port, uint8_t *key, int key_cap, int32_t *key_len, uint16_t *reta, int reta_cap) {
  if (!qs_port_ok(port) || key == NULL || key_len == NULL || reta == NULL) return qs_fail(EINVAL, "qs_port_rss: bad arguments");
  uint16_t pid = (uint16_t)port;
  struct rte_eth_dev_info info;
  int ret = rte_eth_dev_info_get(pid, &info);
  if (ret != 0) return qs_fail(-ret, "rte_eth_dev_info_get(%d): %s", port, rte_strerror(-ret));
  if (info.reta_size == 0 || info.hash_key_size == 0 || info.flow_type_rss_offloads == 0)
    return qs_fail(ENOTSUP, "port %d (%s) reports no RSS key or redirection table", port, info.driver_name);
  if (key_cap < info.hash_key_size || reta_cap < info.reta_size)
    return qs_fail(EINVAL, "qs_port_rss: need %u key bytes and %u table entries", info.hash_key_size, info.reta_size);
  struct rte_eth_rss_conf rc;
  memset(&rc, 0, sizeof(rc));
  rc.rss_key = key;
  rc.rss_key_len = info.hash_key_size;
  ret = rte_eth_dev_rss_hash_conf_get(pid, &rc);
  if (ret < 0) return qs_fail(-ret, "rte_eth_dev_rss_hash_conf_get(%d): %s", port, rte_strerror(-ret));
  if (rc.rss_hf == 0) return qs_fail(ENOTSUP, "port %d: RSS is not enabled", port);
  *key_len = rc.rss_key_len;
  int groups = (info.reta_size + RTE_ETH_RETA_GROUP_SIZE - 1) / RTE_ETH_RETA_GROUP_SIZE;
  struct rte_eth_rss_reta_entry64 conf[groups];
  memset(conf, 0, sizeof(conf));
  for (int g = 0; g < groups; g++) conf[g].mask = ~0ULL;
  ret = rte_eth_dev_rss_reta_query(pid, conf, info.reta_size);
  if (ret < 0) return qs_fail(-ret, "rte_eth_dev_rss_reta_query(%d): %s", port, rte_strerror(-ret));
  for (int i = 0; i < info.reta_size; i++) reta[i] = conf[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
  return info.reta_size;
}
