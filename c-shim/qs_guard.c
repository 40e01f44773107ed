/*
 * qstack_shim: keep PMD control callbacks from running during a burst.
 *
 * Why: net_memif handles its control channel in EAL's interrupt thread. When
 * the peer vanishes, that thread runs memif_disconnect(), which unmaps the
 * shared rings and frees the region table while the polling thread may be in
 * the middle of eth_memif_rx/tx reading them: the poller crashes (measured
 * here: about 1 run in 8 when the server peer is SIGKILLed; FACTS "memif
 * crash"). A shutdown handshake cannot help when the peer is killed.
 *
 * How: the shim defines rte_intr_callback_register/unregister/_pending/_sync
 * with DPDK's symbol versions and promotes itself to the global symbol scope
 * before rte_eal_init, so the PMD plugins EAL loads afterwards bind to these
 * definitions. Each callback is registered through a trampoline that takes
 * every burst slot lock before calling it. A guarded burst (ports whose PMD
 * is net_memif) holds its thread's slot lock for the duration of the PMD
 * call, and so do stop and close of such ports (memif's stop disconnects
 * too, so it must not interleave with a disconnect the peer triggered); a
 * callback unregistered meanwhile is skipped. EAL itself is linked BIND_NOW
 * and keeps its own internal bindings.
 * Cost: one uncontended atomic exchange and one store per guarded burst.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <rte_eal.h>
#include <rte_interrupts.h>
#include <rte_pause.h>

#include "qs_internal.h"

#define QS_GUARD_SLOTS 128

struct qs_slot {
  int lock;
} __attribute__((aligned(64)));

static struct qs_slot qs_slots[QS_GUARD_SLOTS];
static int qs_slots_used;
static __thread int qs_my_slot = -1;

struct qs_wrap {
  struct qs_wrap *next;
  int fd;                           /* EAL matches callbacks by the handle's fd */
  rte_intr_callback_fn cb;
  void *arg;
  rte_intr_unregister_callback_fn ucb;
  int dead;                         /* set once EAL has dropped it; freed by the next reap */
  int cancelled;                    /* unregistered while its trampoline waited for the locks */
};

static pthread_mutex_t qs_wrap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct qs_wrap *qs_wraps;
static uint64_t qs_wrapped_total, qs_guarded_calls;

typedef int (*reg_fn)(const struct rte_intr_handle *, rte_intr_callback_fn, void *);
typedef int (*pend_fn)(const struct rte_intr_handle *, rte_intr_callback_fn, void *, rte_intr_unregister_callback_fn);
static reg_fn real_register, real_unregister;
static pend_fn real_pending;
static int qs_guard_ready;

/* ------------------------------------------------------------ burst side */

int qs_guard_enter(void) {
  int s = qs_my_slot;
  if (unlikely(s < 0)) {
    s = __atomic_fetch_add(&qs_slots_used, 1, __ATOMIC_RELAXED);
    if (s >= QS_GUARD_SLOTS) s = s % QS_GUARD_SLOTS; /* shared slots still exclude callbacks */
    qs_my_slot = s;
  }
  while (__atomic_exchange_n(&qs_slots[s].lock, 1, __ATOMIC_ACQUIRE)) {
    while (__atomic_load_n(&qs_slots[s].lock, __ATOMIC_RELAXED)) rte_pause();
  }
  return s;
}

void qs_guard_exit(int s) { __atomic_store_n(&qs_slots[s].lock, 0, __ATOMIC_RELEASE); }

/* ------------------------------------------------------------ callback side */

static void qs_lock_all(void) {
  for (int i = 0; i < QS_GUARD_SLOTS; i++) {
    while (__atomic_exchange_n(&qs_slots[i].lock, 1, __ATOMIC_ACQUIRE)) {
      while (__atomic_load_n(&qs_slots[i].lock, __ATOMIC_RELAXED)) rte_pause();
    }
  }
}

static void qs_unlock_all(void) {
  for (int i = QS_GUARD_SLOTS - 1; i >= 0; i--) __atomic_store_n(&qs_slots[i].lock, 0, __ATOMIC_RELEASE);
}

static void qs_trampoline(void *p) {
  struct qs_wrap *w = p;
  qs_lock_all();
  /* A guarded port stop/close (which holds a slot lock) may have unregistered
   * this callback while we waited: EAL saw it "active" and deferred the
   * removal, but the device behind it is gone. Running it now would touch freed state. */
  if (!__atomic_load_n(&w->cancelled, __ATOMIC_ACQUIRE)) {
    __atomic_fetch_add(&qs_guarded_calls, 1, __ATOMIC_RELAXED);
    w->cb(w->arg);
  }
  qs_unlock_all();
}

static void qs_unlink(struct qs_wrap *w) {
  for (struct qs_wrap **pp = &qs_wraps; *pp; pp = &(*pp)->next) {
    if (*pp == w) {
      *pp = w->next;
      return;
    }
  }
}

/* Free wrappers EAL has dropped. Caller holds qs_wrap_lock. */
static void qs_reap(void) {
  struct qs_wrap **pp = &qs_wraps;
  while (*pp) {
    struct qs_wrap *w = *pp;
    if (__atomic_load_n(&w->dead, __ATOMIC_ACQUIRE)) {
      *pp = w->next;
      free(w);
    } else {
      pp = &w->next;
    }
  }
}

/* EAL calls this with its interrupt lock held, while our unregister paths hold
 * qs_wrap_lock and then take EAL's lock: so no qs_wrap_lock here, only a flag. */
static void qs_ucb_trampoline(struct rte_intr_handle *h, void *p) {
  struct qs_wrap *w = p;
  if (w->ucb) w->ucb(h, w->arg);
  __atomic_store_n(&w->dead, 1, __ATOMIC_RELEASE);
}

/* Called from qs_eal_init before rte_eal_init. Returns 0, or -1 when the guard could not be installed. */
int qs_guard_install(void) {
  if (qs_guard_ready) return 0;
  Dl_info di;
  if (dladdr((void *)rte_eal_init, &di) == 0 || di.dli_fname == NULL) return -1;
  void *eal = dlopen(di.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  if (eal == NULL) return -1;
  real_register = (reg_fn)dlvsym(eal, "rte_intr_callback_register", "DPDK_23");
  real_unregister = (reg_fn)dlvsym(eal, "rte_intr_callback_unregister", "DPDK_23");
  real_pending = (pend_fn)dlvsym(eal, "rte_intr_callback_unregister_pending", "DPDK_23");
  if (!real_register || !real_unregister || !real_pending) return -1;
  /* Promote this library to the global scope: plugins loaded from now on bind to our definitions. */
  Dl_info self;
  if (dladdr((void *)qs_guard_install, &self) == 0 || dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL) == NULL)
    return -1;
  qs_guard_ready = 1;
  return 0;
}

/* ------------------------------------------------------------ interposed EAL API */

int rte_intr_callback_register(const struct rte_intr_handle *h, rte_intr_callback_fn cb, void *arg) {
  if (!qs_guard_ready) return -ENOTSUP;
  struct qs_wrap *w = calloc(1, sizeof(*w));
  if (w == NULL) return -ENOMEM;
  w->fd = rte_intr_fd_get(h);
  w->cb = cb;
  w->arg = arg;
  pthread_mutex_lock(&qs_wrap_lock);
  qs_reap();
  w->next = qs_wraps;
  qs_wraps = w;
  qs_wrapped_total++;
  pthread_mutex_unlock(&qs_wrap_lock);
  int ret = real_register(h, qs_trampoline, w);
  if (ret < 0) {
    pthread_mutex_lock(&qs_wrap_lock);
    qs_unlink(w);
    pthread_mutex_unlock(&qs_wrap_lock);
    free(w);
  }
  return ret;
}

static int qs_matches(const struct qs_wrap *w, int fd, rte_intr_callback_fn cb, void *arg) {
  return !__atomic_load_n(&w->dead, __ATOMIC_ACQUIRE) && w->fd == fd && w->cb == cb && (arg == (void *)-1 || w->arg == arg);
}

int rte_intr_callback_unregister(const struct rte_intr_handle *h, rte_intr_callback_fn cb, void *arg) {
  if (!qs_guard_ready) return -ENOTSUP;
  int fd = rte_intr_fd_get(h), total = 0, err = 0, seen = 0;
  pthread_mutex_lock(&qs_wrap_lock);
  qs_reap();
  struct qs_wrap **pp = &qs_wraps;
  while (*pp) {
    struct qs_wrap *w = *pp;
    if (!qs_matches(w, fd, cb, arg)) {
      pp = &w->next;
      continue;
    }
    seen = 1;
    int r = real_unregister(h, qs_trampoline, w);
    if (r > 0) {
      *pp = w->next;
      free(w);
      total += r;
    } else {
      if (r < 0) err = r;
      pp = &w->next;
    }
  }
  pthread_mutex_unlock(&qs_wrap_lock);
  if (!seen) return real_unregister(h, cb, arg); /* registered before the guard: not wrapped */
  return total > 0 ? total : err;
}

int rte_intr_callback_unregister_pending(const struct rte_intr_handle *h, rte_intr_callback_fn cb, void *arg,
                                         rte_intr_unregister_callback_fn ucb) {
  if (!qs_guard_ready) return -ENOTSUP;
  int fd = rte_intr_fd_get(h), total = 0, err = 0, seen = 0;
  pthread_mutex_lock(&qs_wrap_lock);
  qs_reap();
  for (struct qs_wrap *w = qs_wraps; w; w = w->next) {
    if (!qs_matches(w, fd, cb, arg)) continue;
    seen = 1;
    w->ucb = ucb;
    int r = real_pending(h, qs_trampoline, w, qs_ucb_trampoline);
    if (r > 0) {
      __atomic_store_n(&w->cancelled, 1, __ATOMIC_RELEASE);
      total += r;
    } else if (r < 0) {
      err = r;
    }
  }
  pthread_mutex_unlock(&qs_wrap_lock);
  if (!seen) return real_pending(h, cb, arg, ucb);
  return total > 0 ? total : err;
}

int rte_intr_callback_unregister_sync(const struct rte_intr_handle *h, rte_intr_callback_fn cb, void *arg) {
  int ret;
  while ((ret = rte_intr_callback_unregister(h, cb, arg)) == -EAGAIN) rte_pause();
  return ret;
}

/* How many callbacks were wrapped and how many guarded calls ran (for tests). */
int qs_guard_stats(double *out) {
  if (out == NULL) return -EINVAL;
  out[0] = (double)__atomic_load_n(&qs_wrapped_total, __ATOMIC_RELAXED);
  out[1] = (double)__atomic_load_n(&qs_guarded_calls, __ATOMIC_RELAXED);
  out[2] = qs_guard_ready;
  return 3;
}
