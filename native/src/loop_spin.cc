#include "loop_spin.h"

#include <sched.h>

#include "clock.h"

namespace dls {

namespace {

// One per event loop, hence per JS thread (the main thread, each worker).
struct State {
  uv_idle_t* idle = nullptr;
  bool running = false;
  int64_t last_ns = 0;     // when the last datagram was handled
  int64_t budget_ns = 0;   // spin until last_ns + budget_ns
  uint64_t seen = 0;       // datagrams handled: OnIdle compares with the count at its previous call
  uint64_t at_idle = 0;
  uint64_t spins = 0;
  uint64_t iterations = 0;
  uint64_t yields = 0;
};

thread_local State state;

}  // namespace

void LoopSpin::Note(napi_env env, uv_loop_t* loop, int64_t budget_ns, bool spin) {
  State& s = state;
  s.seen++;
  if (budget_ns <= 0 || !spin || loop == nullptr) return;
  s.last_ns = NowNs();
  s.budget_ns = budget_ns;
  if (s.running) return;
  if (s.idle == nullptr) {
    auto* idle = new uv_idle_t();
    if (uv_idle_init(loop, idle) != 0) {
      delete idle;
      return;
    }
    // The spin never keeps the process alive on its own.
    uv_unref(reinterpret_cast<uv_handle_t*>(idle));
    s.idle = idle;
    napi_add_env_cleanup_hook(env, &LoopSpin::Cleanup, nullptr);
  }
  if (uv_idle_start(s.idle, &LoopSpin::OnIdle) == 0) {
    s.running = true;
    s.spins++;
  }
}

// Runs once per loop iteration while spinning (an active idle handle makes the poll phase return at once).
void LoopSpin::OnIdle(uv_idle_t* handle) {
  State& s = state;
  if (NowNs() - s.last_ns > s.budget_ns) {
    uv_idle_stop(handle);
    s.running = false;
    return;
  }
  // Nothing arrived since the last iteration: let any other runnable task on this CPU go first. With nothing else
  // runnable the call returns at once.
  s.iterations++;
  if (s.seen == s.at_idle) {
    s.yields++;
    sched_yield();
  }
  s.at_idle = s.seen;
}

LoopSpin::Stats LoopSpin::Get() {
  const State& s = state;
  return Stats{s.spins, s.iterations, s.yields, s.running};
}

void LoopSpin::Cleanup(void*) {
  State& s = state;
  if (s.idle == nullptr) return;
  uv_idle_stop(s.idle);
  uv_close(reinterpret_cast<uv_handle_t*>(s.idle), [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
  s.idle = nullptr;
  s.running = false;
}

}  // namespace dls
