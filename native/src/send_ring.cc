#include "send_ring.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

namespace dls {

namespace {

constexpr unsigned kEntries = 256;

std::atomic<bool> enabled{true};

struct ThreadState {
  SendRing* ring = nullptr;
  bool tried = false;  // setup failed once: do not try again on this thread
  uint64_t submits = 0;
  uint64_t sends = 0;
  uint64_t failed = 0;
};
thread_local ThreadState tl;

int RingSetup(unsigned entries, io_uring_params* p) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, p));
}

// io_uring sends honour MSG_DONTWAIT (fail with EAGAIN rather than block in a kernel worker) in every 6.x kernel; older
// ones are left to the direct sends.
bool KernelRecentEnough() {
  utsname u;
  if (uname(&u) != 0) return false;
  int major = 0, minor = 0;
  if (sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 1);
}

int RingEnter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, nullptr, 0));
}

}  // namespace

bool SendRing::SetEnabled(bool on) {
  if (!on && tl.ring != nullptr) tl.ring->Flush();
  return enabled.exchange(on);
}

SendRing* SendRing::Get(napi_env env, uv_loop_t* loop) {
  if (!enabled.load(std::memory_order_relaxed) || loop == nullptr) return nullptr;
  if (tl.ring != nullptr || tl.tried) return tl.ring != nullptr && !tl.ring->broken_ ? tl.ring : nullptr;
  tl.tried = true;
  auto* ring = new SendRing();
  if (!ring->Setup(loop)) {
    delete ring;
    return nullptr;
  }
  tl.ring = ring;
  napi_add_env_cleanup_hook(env, &SendRing::Cleanup, nullptr);
  return ring;
}

bool SendRing::Setup(uv_loop_t* loop) {
  if (!KernelRecentEnough()) return false;
  io_uring_params p;
  memset(&p, 0, sizeof(p));
  // Completions are only reaped by the thread that submits: no interrupt to run task work elsewhere.
  p.flags = IORING_SETUP_COOP_TASKRUN;
  int fd = RingSetup(kEntries, &p);
  if (fd < 0 && errno == EINVAL) {
    memset(&p, 0, sizeof(p));
    fd = RingSetup(kEntries, &p);
  }
  if (fd < 0) return false;  // ENOSYS, EPERM (seccomp, io_uring_disabled), ENOMEM: send at once instead
  fd_ = fd;
  entries_ = p.sq_entries;
  sq_map_len_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cq_map_len_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  const bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single) sq_map_len_ = cq_map_len_ = std::max(sq_map_len_, cq_map_len_);
  sq_map_ = mmap(nullptr, sq_map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (sq_map_ == MAP_FAILED) {
    sq_map_ = nullptr;
    Close();
    return false;
  }
  if (single) {
    cq_map_ = sq_map_;
  } else {
    cq_map_ = mmap(nullptr, cq_map_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (cq_map_ == MAP_FAILED) {
      cq_map_ = nullptr;
      Close();
      return false;
    }
  }
  sqes_len_ = p.sq_entries * sizeof(io_uring_sqe);
  void* sqes = mmap(nullptr, sqes_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) {
    Close();
    return false;
  }
  sqes_ = static_cast<io_uring_sqe*>(sqes);
  auto* sq = static_cast<char*>(sq_map_);
  auto* cq = static_cast<char*>(cq_map_);
  sq_tail_ = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
  sq_mask_ = reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
  sq_array_ = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
  cq_head_ = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
  cq_tail_ = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
  cq_mask_ = reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(cq + p.cq_off.cqes);
  check_ = new uv_check_t();
  if (uv_check_init(loop, check_) != 0) {
    delete check_;
    check_ = nullptr;
    Close();
    return false;
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(check_));
  check_->data = this;
  return true;
}

bool SendRing::Queue(int fd, const msghdr* msg) {
  if (fd_ < 0 || broken_) return false;
  if (queued_ >= entries_ && !Flush()) return false;
  const unsigned tail = *sq_tail_;  // only this thread writes the tail
  const unsigned index = tail & *sq_mask_;
  io_uring_sqe* sqe = &sqes_[index];
  memset(sqe, 0, sizeof(*sqe));
  sqe->opcode = IORING_OP_SENDMSG;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(msg);
  sqe->len = 1;
  sqe->msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
  sq_array_[index] = index;
  __atomic_store_n(sq_tail_, tail + 1, __ATOMIC_RELEASE);
  queued_++;
  if (!check_running_ && uv_check_start(check_, &SendRing::OnCheck) == 0) check_running_ = true;
  return true;
}

bool SendRing::Flush() {
  if (queued_ == 0) return true;
  unsigned inflight = 0;
  int retries = 0;
  // Submit: with MSG_DONTWAIT a UDP send completes inside the call, so its completion is usually there already.
  while (queued_ > 0) {
    const int n = RingEnter(fd_, queued_, 0, 0);
    if (n > 0) {
      tl.submits++;
      queued_ -= std::min<unsigned>(queued_, static_cast<unsigned>(n));
      inflight += static_cast<unsigned>(n);
    } else if (!(n < 0 && (errno == EINTR || errno == EAGAIN || errno == EBUSY) && ++retries <= 16)) {
      return Break();
    }
    inflight -= std::min(inflight, Reap());
  }
  // Wait for any completion not posted yet: nothing the kernel reads may outlive this call.
  while (inflight > 0) {
    const int n = RingEnter(fd_, 0, inflight, IORING_ENTER_GETEVENTS);
    if (n < 0 && errno != EINTR) return Break();
    inflight -= std::min(inflight, Reap());
  }
  generation_++;
  return true;
}

// io_uring_enter failed for good: what was queued is lost (the transfers' timers retransmit it), and this thread
// sends at once from now on.
bool SendRing::Break() {
  broken_ = true;
  queued_ = 0;
  generation_++;
  return false;
}

unsigned SendRing::Reap() {
  unsigned head = *cq_head_;
  const unsigned tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
  unsigned reaped = 0;
  for (; head != tail; ++head, ++reaped) {
    const io_uring_cqe* cqe = &cqes_[head & *cq_mask_];
    if (cqe->res < 0) tl.failed++;
    else tl.sends++;
  }
  __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
  return reaped;
}

void SendRing::OnCheck(uv_check_t* handle) {
  auto* ring = static_cast<SendRing*>(handle->data);
  ring->Flush();
  uv_check_stop(handle);
  ring->check_running_ = false;
}

void SendRing::FlushIfPending(uint64_t generation) {
  SendRing* ring = tl.ring;
  if (ring != nullptr && ring->queued_ > 0 && ring->generation_ == generation) ring->Flush();
}

SendRing::Stats SendRing::GetStats() { return Stats{tl.submits, tl.sends, tl.failed}; }

// Releases the ring (after sending what is queued): a failed Setup, or the env going away.
void SendRing::Close() {
  if (fd_ >= 0 && queued_ > 0 && cq_head_ != nullptr) Flush();
  if (check_ != nullptr) {
    uv_check_stop(check_);
    uv_close(reinterpret_cast<uv_handle_t*>(check_), [](uv_handle_t* h) { delete reinterpret_cast<uv_check_t*>(h); });
    check_ = nullptr;
  }
  if (sqes_ != nullptr) munmap(sqes_, sqes_len_);
  if (cq_map_ != nullptr && cq_map_ != sq_map_) munmap(cq_map_, cq_map_len_);
  if (sq_map_ != nullptr) munmap(sq_map_, sq_map_len_);
  if (fd_ >= 0) close(fd_);
  sqes_ = nullptr;
  cq_map_ = sq_map_ = nullptr;
  fd_ = -1;
}

// The env's cleanup hook: this thread's ring goes with it.
void SendRing::Cleanup(void*) {
  if (tl.ring == nullptr) return;
  tl.ring->Close();
  delete tl.ring;
  tl.ring = nullptr;
  tl.tried = false;
}

}  // namespace dls
