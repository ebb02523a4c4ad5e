// SendRing: the lock-step DATA datagrams of many transfers, sent by one io_uring_enter(2) per event-loop iteration.
//
// With several transfers in lock-step, each readable event answers one ACK with one DATA block. Sent one sendmsg at a
// time, each send wakes its client, which on a busy machine often preempts the server right there (measured: ~0.5
// involuntary context switches per block at 10 clients); the other ACKs that were ready wait for the server to be
// scheduled again. Queued instead while the poll phase runs and submitted together in the check phase right after it,
// the blocks of one iteration cost one system call and at most one such preemption.
//
// One ring per event-loop thread. Every submission is waited for (MSG_DONTWAIT: a full socket buffer fails the send,
// as it would a sendmsg; a lost block is retransmitted on timeout): nothing the kernel reads outlives Flush(). Where
// io_uring is not available (a kernel before 6.1, a seccomp profile that refuses it, io_uring_disabled), Get() gives
// nullptr and the caller sends at once.
#pragma once

#include <napi.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>

struct io_uring_sqe;
struct io_uring_cqe;

namespace dls {

class SendRing {
 public:
  /** This thread's ring, created on first use; nullptr when io_uring is unusable or switched off (SetEnabled). */
  static SendRing* Get(napi_env env, uv_loop_t* loop);
  /** Tests and operators' escape hatch: false sends every block at once. Returns the previous value. */
  static bool SetEnabled(bool enabled);

  /**
   * Queues sendmsg(fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL). `msg`, its iovecs and its name must stay valid until the next
   * Flush(). False when it cannot be queued (the caller sends it itself).
   */
  bool Queue(int fd, const msghdr* msg);
  /** Submits what is queued and waits for it; true when nothing is left queued. Called by the check phase. */
  bool Flush();
  /** Counts the flushes that emptied the queue: a message queued at generation g is queued until it moves on. */
  uint64_t generation() const { return generation_; }
  /**
   * Flushes this thread's ring if a message queued at `generation` may still be queued (before its socket sends
   * directly, replaces what the message points into, or closes). Never creates a ring.
   */
  static void FlushIfPending(uint64_t generation);

  struct Stats {
    uint64_t submits;  // io_uring_enter calls that submitted
    uint64_t sends;    // datagrams sent through the ring
    uint64_t failed;   // completions with an error (a full send buffer, mostly)
  };
  static Stats GetStats();

 private:
  SendRing() = default;
  bool Setup(uv_loop_t* loop);
  static void OnCheck(uv_check_t* handle);
  void Close();
  static void Cleanup(void* arg);
  unsigned Reap();
  bool Break();

  int fd_ = -1;
  unsigned entries_ = 0;
  unsigned queued_ = 0;
  uint64_t generation_ = 0;
  bool broken_ = false;  // io_uring_enter failed for good: nothing is queued any more
  // Submission queue ring
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_mask_ = nullptr;
  unsigned* sq_array_ = nullptr;
  ::io_uring_sqe* sqes_ = nullptr;
  // Completion queue ring
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned* cq_mask_ = nullptr;
  ::io_uring_cqe* cqes_ = nullptr;
  void* sq_map_ = nullptr;
  size_t sq_map_len_ = 0;
  void* cq_map_ = nullptr;
  size_t cq_map_len_ = 0;
  size_t sqes_len_ = 0;
  uv_check_t* check_ = nullptr;
  bool check_running_ = false;
};

}  // namespace dls
