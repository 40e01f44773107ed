/*
 * qs-idle-poll: keep this machine's CPUs from halting while a latency run
 * goes on, without taking time from anything that wants to run.
 *
 * One thread per CPU of the process's affinity mask, pinned, at SCHED_IDLE,
 * spinning on the pause instruction; the process in a cpu cgroup of its own
 * with cpu.idle = 1 (idle_cgroup below), and, where that cannot be made, in a
 * session of its own with its autogroup at nice 19 (a SCHED_IDLE thread in
 * another autogroup still competes as its group: the lowest group weight
 * keeps its share of a busy CPU at ~1.5 %).
 *
 * Why (measured on this repository's 2-vCPU Firecracker VM, bench iotep):
 * a vCPU that halts when its last thread sleeps takes the hypervisor a while
 * to resume, counted as "steal" in /proc/stat: 5-9 % of the CPU time during a
 * run whose poll loops sleep and wake thousands of times a second, 0.15 %
 * with this running, and the wire request p99 went from 5.3 to 0.85 ms.
 *
 * Exits on SIGTERM/SIGINT, and when its parent exits (PR_SET_PDEATHSIG).
 * Usage: qs-idle-poll [--no-setsid]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_barrier_t started;

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL) return -1;
  int ok = fputs(text, f) >= 0;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}

/*
 * Move this process into a cpu cgroup of its own with cpu.idle = 1 (Linux
 * 5.15+), named qs-idle-poll-<pid> under the cgroup-v1 cpu hierarchy or the
 * cgroup-v2 root. Why: a SCHED_IDLE thread is preempted at once by a waking
 * thread only when both are in one scheduling group; against another group
 * (every process is its own autogroup), the kernel compares the groups, and a
 * plain group lets the spinner finish its slice (perf sched: 14 ms of a
 * priority server's wake-up delays in one run). An idle group is preempted at once. The
 * caller removes the directory after this process has exited. Returns the
 * directory, or NULL when neither hierarchy takes it.
 */
static char group_dir[128];
static const char *idle_cgroup(void) {
  const char *roots[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup"};
  for (unsigned i = 0; i < sizeof roots / sizeof roots[0]; i++) {
    char path[192], pid[32];
    snprintf(group_dir, sizeof group_dir, "%s/qs-idle-poll-%d", roots[i], (int)getpid());
    if (mkdir(group_dir, 0755) != 0 && errno != EEXIST) continue;
    snprintf(path, sizeof path, "%s/cpu.idle", group_dir);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    char procs[192];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", group_dir);
    if (write_file(path, "1") == 0 && write_file(procs, pid) == 0) return group_dir;
    rmdir(group_dir);
  }
  return NULL;
}

static void *spin(void *arg) {
  (void)arg;
  /* SCHED_IDLE is not a POSIX thread-attribute policy (glibc falls back to SCHED_OTHER): set here. */
  struct sched_param p = {0};
  int e = pthread_setschedparam(pthread_self(), SCHED_IDLE, &p);
  if (e != 0) fprintf(stderr, "qs-idle-poll: SCHED_IDLE: %s\n", strerror(e));
  pthread_barrier_wait(&started);
  for (;;) __builtin_ia32_pause();
  return NULL;
}

int main(int argc, char **argv) {
  int own_session = !(argc > 1 && strcmp(argv[1], "--no-setsid") == 0);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() == 1) return 0; /* the parent is already gone */
  if (own_session && setsid() < 0) perror("qs-idle-poll: setsid");
  FILE *ag = fopen("/proc/self/autogroup", "w");
  if (ag != NULL) {
    fputs("19", ag);
    fclose(ag);
  }
  const char *group = idle_cgroup();
  printf("qs-idle-poll: cgroup %s\n", group != NULL ? group : "none (autogroup nice 19 only)");
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    perror("qs-idle-poll: sched_getaffinity");
    return 1;
  }
  int n = 0;
  pthread_barrier_init(&started, NULL, (unsigned)CPU_COUNT(&set) + 1);
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (!CPU_ISSET(c, &set)) continue;
    /* Pinned from its first instruction. */
    pthread_attr_t a;
    pthread_attr_init(&a);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(c, &one);
    pthread_attr_setaffinity_np(&a, sizeof one, &one);
    pthread_t t;
    int e = pthread_create(&t, &a, spin, NULL);
    pthread_attr_destroy(&a);
    if (e == 0) n++;
    else fprintf(stderr, "qs-idle-poll: CPU %d: %s\n", c, strerror(e));
  }
  if (n != CPU_COUNT(&set)) return 1;
  /* Every thread is at SCHED_IDLE before the line that says it runs. */
  pthread_barrier_wait(&started);
  printf("qs-idle-poll: %d CPUs kept awake\n", n);
  fflush(stdout);
  /* Wait for a signal; the default action of SIGTERM/SIGINT ends the process. */
  for (;;) pause();
}
