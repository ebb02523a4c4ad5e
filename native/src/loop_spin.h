// LoopSpin: keeps one event loop polling (poll timeout 0) for a short budget after each datagram of a TFTP transfer,
// while two or more transfers are open. On a LAN the next ACK is back sooner than a sleep in epoll_wait and its
// wake-up take; and a client whose ACK finds the server awake does not pay for waking it. Polite: an iteration of the
// loop that found nothing yields the CPU (sched_yield) to anything else runnable on it (tgtd, PostgreSQL, the disk
// daemon), so the spin only fills time the CPU would otherwise spend idle.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>

namespace dls {

class LoopSpin {
 public:
  /**
   * A datagram of a transfer was handled on `loop` (this thread's). With budget_ns > 0 and `spin` true, the loop keeps
   * polling until budget_ns pass without another one.
   */
  static void Note(napi_env env, uv_loop_t* loop, int64_t budget_ns, bool spin);

  /** This thread's counts: spins started, loop iterations spent polling, of which yielded, and whether one runs. */
  struct Stats {
    uint64_t spins;
    uint64_t iterations;
    uint64_t yields;
    bool running;
  };
  static Stats Get();

 private:
  static void OnIdle(uv_idle_t* handle);
  static void Cleanup(void* arg);
};

}  // namespace dls
