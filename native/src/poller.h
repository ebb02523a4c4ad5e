// Poller: one non-blocking socket fd watched for readability by a uv_poll_t on the Node event loop.
// The uv_poll_t lives on the heap and is freed in its close callback, so the owning object may be destroyed
// before libuv has finished closing the handle.
#pragma once

#include <uv.h>

namespace dls {

class Poller {
 public:
  using ReadableFn = void (*)(void* owner, int status);

  Poller() = default;
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;
  ~Poller() { Close(); }

  /**
   * Takes ownership of `fd` (closed by Close() even when Start fails) and starts watching it.
   * Returns 0 or a negative libuv error code.
   */
  int Start(uv_loop_t* loop, int fd, void* owner, ReadableFn on_readable);

  /** Stops watching and closes the fd. Idempotent. */
  void Close();

  /** Lets the event loop exit while the socket is open (uv_unref) or not (uv_ref). */
  void SetRef(bool ref);

  bool IsOpen() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  uv_loop_t* loop() const { return handle_ != nullptr ? handle_->loop : nullptr; }

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events);

  int fd_ = -1;
  uv_poll_t* handle_ = nullptr;
  void* owner_ = nullptr;
  ReadableFn on_readable_ = nullptr;
};

}  // namespace dls
