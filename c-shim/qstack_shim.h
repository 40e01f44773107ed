/*
 * qstack_shim: the only C in QStack for Bun. A thin layer over DPDK 22.11 that
 * bun:ffi can call cheaply: EAL start, one mbuf pool in ONE virtually
 * contiguous chunk, port setup, rx/tx bursts through a shared descriptor
 * array, bulk alloc/free, stats, hugepage regions, and a table of mbuf
 * offsets. No protocol logic, except the benchmark's C reflect loop
 * (qs_bench_reflect) and C sender (qs_bench_send).
 *
 * ABI rules: every exported function takes and returns 32-bit ints, doubles
 * and pointers only (a 64-bit integer costs a BigInt in bun:ffi). Functions
 * returning int return >= 0 on success and a negative errno on failure; the
 * calling thread's last error message is then in qs_last_error().
 *
 * Descriptor arrays (src/net/packet-batch.ts): one uint32_t array of 3*C
 * words for a batch of capacity C: [0,C) handles = mbuf byte offset from the
 * pool base, [C,2C) frame byte offset from the pool base
 * (buf_addr + data_off - base), [2C,3C) frame lengths in bytes.
 */
#ifndef QSTACK_SHIM_H
#define QSTACK_SHIM_H

#include <stdint.h>

/* Bumped whenever a signature or the layout table changes; ffi/layout.ts checks it. */
#define QS_ABI_VERSION 1

/* qs_layout() table indices. */
enum qs_layout_index {
  QS_L_ABI = 0,          /* QS_ABI_VERSION */
  QS_L_MBUF_SIZE,        /* sizeof(struct rte_mbuf) */
  QS_L_BUF_ADDR,         /* offsetof(struct rte_mbuf, buf_addr) */
  QS_L_DATA_OFF,         /* offsetof(..., data_off) */
  QS_L_PKT_LEN,          /* offsetof(..., pkt_len) */
  QS_L_DATA_LEN,         /* offsetof(..., data_len) */
  QS_L_NEXT,             /* offsetof(..., next) */
  QS_L_NB_SEGS,          /* offsetof(..., nb_segs) */
  QS_L_PORT,             /* offsetof(..., port) */
  QS_L_HEADROOM,         /* RTE_PKTMBUF_HEADROOM */
  QS_L_BUF_LEN,          /* offsetof(..., buf_len) */
  QS_L_REFCNT,           /* offsetof(..., refcnt) */
  QS_L_POOL,             /* offsetof(..., pool) */
  QS_L_STATS_N,          /* number of doubles qs_port_stats writes */
  QS_L_MAX_BURST,        /* largest burst one rx/tx call moves (QS_MAX_BURST) */
  QS_LAYOUT_N
};

/* qs_port_stats() output indices (doubles). */
enum qs_stats_index {
  QS_S_IPACKETS = 0, QS_S_OPACKETS, QS_S_IBYTES, QS_S_OBYTES,
  QS_S_IMISSED, QS_S_IERRORS, QS_S_OERRORS, QS_S_RX_NOMBUF,
  QS_S_RX_DROPPED,       /* shim: multi-segment or foreign-pool frames dropped on rx */
  QS_S_TX_UNSENT,        /* shim: frames the PMD did not take, freed by qs_tx_burst */
  QS_S_TX_BAD,           /* shim: descriptors with an impossible offset/length, dropped */
  QS_STATS_N
};

/* Most frames one qs_rx_burst / qs_tx_burst moves per PMD call. */
#define QS_MAX_BURST 256

/* qs_eal_init flags */
#define QS_EAL_KEEP_AFFINITY 1  /* do not unpin the calling thread after init */
#define QS_EAL_NO_GUARD 2       /* do not install the burst guard (qs_guard.c) */

/* qs_region_alloc flags */
#define QS_REGION_TRY_HUGE 1    /* try MAP_HUGETLB first */

/* qs_bench_* output indices (doubles). */
enum qs_bench_index {
  QS_B_RX = 0,    /* frames received */
  QS_B_TX,        /* frames the PMD took */
  QS_B_DROP,      /* frames dropped (parse failure, tx ring full, no mbuf) */
  QS_B_SECONDS,   /* measured wall time */
  QS_B_N
};

/* ---- errors and layout ---- */
int qs_last_error(char *buf, int len);
int qs_layout(int32_t *out, int n);

/* ---- EAL ---- */
/* args: argc NUL-terminated strings back to back (argv[0] first). */
int qs_eal_init(const char *args, int argc, int flags);
int qs_eal_cleanup(void);
int qs_iova_mode_va(void);      /* 1 when IOVA as VA, 0 for PA */
int qs_has_hugepages(void);     /* 1 unless --no-huge */
int qs_thread_register(void);   /* rte_thread_register for a Worker thread; returns its lcore id */
int qs_thread_unregister(void); /* give the lcore id back (its mempool cache stays with the id) */
int qs_lcore_id(void);          /* rte_lcore_id(), -1 for an unregistered thread */
double qs_tsc_hz(void);
/* Burst guard (qs_guard.c): out[0] callbacks wrapped, out[1] guarded callback runs, out[2] installed. */
int qs_guard_stats(double *out);

/* ---- mbuf pool: ONE virtually contiguous chunk ---- */
/* dataroom includes RTE_PKTMBUF_HEADROOM (like rte_pktmbuf_pool_create). Returns a pool index. */
int qs_pool_create(const char *name, int nbufs, int cache, int dataroom);
void *qs_pool_base(int pool);
double qs_pool_span(int pool);   /* bytes from base covering every mbuf */
int qs_pool_chunks(int pool);    /* mempool memory chunks (1 in IOVA-VA mode) */
int qs_pool_avail(int pool);     /* free mbufs, caches included */
int qs_pool_free(int pool);

/* ---- ports ---- */
int qs_dev_probe(const char *devargs);          /* hot-plug a vdev/PCI device after init */
int qs_port_by_name(const char *name);          /* "net_af_packet0" or a PCI address -> port id */
int qs_port_count(void);
int qs_port_setup(int port, int pool, int nrxq, int ntxq, int rxdesc, int txdesc, int promisc);
int qs_port_pool(int port);                     /* the pool index a configured port receives into */
int qs_port_mac(int port, uint8_t *out6);
int qs_port_set_mac(int port, const uint8_t *mac6);
int qs_port_mtu(int port);
int qs_port_driver(int port, char *buf, int len);
int qs_link_up(int port);                       /* 1 up, 0 down, <0 error */
int qs_port_stats(int port, double *out);       /* QS_STATS_N doubles */
int qs_port_stats_reset(int port);
int qs_port_stop(int port);
int qs_port_close(int port, int remove);        /* remove: also unplug the device */
/* RSS key (into key, length into *key_len) and redirection table; returns the table size, -ENOTSUP without RSS. */
int qs_port_rss(int port, uint8_t *key, int key_cap, int32_t *key_len, uint16_t *reta, int reta_cap);

/* ---- bursts (one FFI call per burst, none per packet) ---- */
int qs_rx_burst(int port, int queue, uint32_t *words, int capacity, int start);
int qs_tx_burst(int port, int queue, uint32_t *words, int capacity, int n);
int qs_tx_burst_keep(int port, int queue, uint32_t *words, int capacity, int n, int32_t *left);
int qs_alloc_bulk(int pool, uint32_t *words, int capacity, int start, int n);
int qs_free_bulk(int pool, uint32_t *words, int capacity, int n);
int qs_free_one(int pool, uint32_t handle);

/* ---- regions for the TypeScript mempools (zeroed) ---- */
void *qs_region_alloc(const char *name, double bytes, int flags);
int qs_region_free(void *addr);
int qs_region_is_huge(void *addr);              /* 1 hugetlb, 0 normal pages, <0 unknown */

/* ---- bulk bytes for the TypeScript data path (qs_mem.c) ---- */
void qs_mem_copy(void *dst, const void *src, int n);   /* memmove of n bytes */
int qs_mem_csum(const void *p, int n);                  /* RFC 1071 partial sum, big-endian words, < 2^16 */

/* ---- bench/pps baseline ---- */
/* rx -> check Ethernet/IPv4 -> swap MACs and IPv4 addresses -> tx, for `seconds`. */
int qs_bench_reflect(int port, int queue, double seconds, double *out);
/* Flood copies of `frame` (len bytes) for `seconds`, freeing whatever comes back. */
int qs_bench_send(int port, int queue, int pool, double seconds, const uint8_t *frame, int len, double *out);
/* Single iterations of the two loops above, for a loop run from TypeScript in one process.
 * reflect_burst returns frames received; send_burst adds [sent, received back] to out[0..1]. */
int qs_bench_reflect_burst(int port, int queue);
int qs_bench_send_burst(int port, int queue, int pool, const uint8_t *frame, int len, double *out);

#endif
