#include "poller.h"

#include <unistd.h>

namespace dls {

int Poller::Start(uv_loop_t* loop, int fd, void* owner, ReadableFn on_readable) {
  Close();
  fd_ = fd;
  owner_ = owner;
  on_readable_ = on_readable;
  auto* handle = new uv_poll_t();
  int rc = uv_poll_init(loop, handle, fd);
  if (rc < 0) {
    delete handle;  // a handle whose init failed was never registered with the loop
    Close();
    return rc;
  }
  handle->data = this;
  handle_ = handle;
  rc = uv_poll_start(handle_, UV_READABLE, &Poller::OnPoll);
  if (rc < 0) {
    Close();
    return rc;
  }
  return 0;
}

void Poller::Close() {
  if (handle_ != nullptr) {
    handle_->data = nullptr;
    // uv_close stops the poll and removes the fd from epoll before returning, so the fd may be closed below.
    uv_close(reinterpret_cast<uv_handle_t*>(handle_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    handle_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void Poller::SetRef(bool ref) {
  if (handle_ == nullptr) return;
  if (ref) {
    uv_ref(reinterpret_cast<uv_handle_t*>(handle_));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
  }
}

void Poller::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<Poller*>(handle->data);
  if (self == nullptr || self->on_readable_ == nullptr) return;
  self->on_readable_(self->owner_, status);
}

}  // namespace dls
