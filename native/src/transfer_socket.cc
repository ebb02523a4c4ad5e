#include "transfer_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "clock.h"
#include "errors.h"
#include "loop_spin.h"
#include "send_ring.h"

namespace dls {

namespace {

// Datagrams handed to JS per readable event before yielding to the rest of the event loop.
constexpr int kMaxPerWakeup = 64;
// Waits a transfer's spinning may run out before it stops for good (each costs the spin budget in CPU).
constexpr int64_t kMaxSpinMisses = 8;
// Datagrams per sendmmsg call; larger windows take several calls.
constexpr unsigned kBatch = 64;
// 4-byte DATA header (RFC 1350 §5) per 16-bit block number, in the table JS passes to sendBlocks.
constexpr size_t kHeaderLength = 4;
constexpr size_t kHeaderTableLength = 65536 * kHeaderLength;

sockaddr_in Endpoint(Napi::Env env, const Napi::Value& address, const Napi::Value& port, bool allow_port_zero) {
  if (!address.IsString()) ThrowInvalidArg(env, "address must be an IPv4 address string");
  if (!port.IsNumber()) ThrowInvalidArg(env, "port must be a number");
  const double p = port.As<Napi::Number>().DoubleValue();
  if (!(p >= (allow_port_zero ? 0 : 1) && p <= 65535) || p != static_cast<double>(static_cast<int>(p))) {
    ThrowInvalidArg(env, "port must be an integer in range");
  }
  sockaddr_in sa;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(p));
  const std::string text = address.As<Napi::String>().Utf8Value();
  if (inet_pton(AF_INET, text.c_str(), &sa.sin_addr) != 1) ThrowInvalidArg(env, "not an IPv4 address: " + text);
  return sa;
}

std::string Text(const sockaddr_in& sa) {
  char text[INET_ADDRSTRLEN] = {0};
  inet_ntop(AF_INET, &sa.sin_addr, text, sizeof(text));
  return std::string(text) + ":" + std::to_string(ntohs(sa.sin_port));
}

double NumberArg(Napi::Env env, const Napi::Value& v, const char* what, double min, double max) {
  if (!v.IsNumber()) ThrowInvalidArg(env, std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != static_cast<double>(static_cast<int64_t>(d))) {
    ThrowInvalidArg(env, std::string(what) + " out of range");
  }
  return d;
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

std::atomic<int> TransferSocket::open_count_{0};

Napi::Function TransferSocket::Init(Napi::Env env) {
  return DefineClass(env, "TransferSocket",
                     {
                         InstanceMethod<&TransferSocket::Send>("send"),
                         InstanceMethod<&TransferSocket::SendTo>("sendTo"),
                         InstanceMethod<&TransferSocket::SetSource>("setSource"),
                         InstanceMethod<&TransferSocket::SendBlocks>("sendBlocks"),
                         InstanceMethod<&TransferSocket::ArmReply>("armReply"),
                         InstanceMethod<&TransferSocket::SetChain>("setChain"),
                         InstanceMethod<&TransferSocket::TakeChained>("takeChained"),
                         InstanceMethod<&TransferSocket::Close>("close"),
                         InstanceMethod<&TransferSocket::Address>("address"),
                         InstanceMethod<&TransferSocket::Unref>("unref"),
                         InstanceMethod<&TransferSocket::Stats>("stats"),
                         StaticMethod<&TransferSocket::SetGso>("setGso"),
                         StaticMethod<&TransferSocket::LoopSpinStats>("loopSpinStats"),
                         StaticMethod<&TransferSocket::SetRing>("setRing"),
                         StaticMethod<&TransferSocket::RingStats>("ringStats"),
                     });
}

TransferSocket::TransferSocket(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<TransferSocket>(info), async_context_(info.Env(), "TftpTransferSocket") {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsFunction()) {
    ThrowInvalidArg(env,
                    "usage: new TransferSocket({ address, peerAddress, peerPort, receiveBuffer }, onMessage, onError)");
  }
  Napi::Object opts = info[0].As<Napi::Object>();
  Napi::Value receive = opts.Get("receiveBuffer");
  if (!receive.IsBuffer() || receive.As<Napi::Buffer<unsigned char>>().Length() == 0) {
    ThrowInvalidArg(env, "receiveBuffer must be a non-empty Buffer");
  }
  sockaddr_in local = Endpoint(env, opts.Get("address"), Napi::Number::New(env, 0), true);
  peer_ = Endpoint(env, opts.Get("peerAddress"), opts.Get("peerPort"), false);

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket", Text(local));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof(local)) < 0) {
    const int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "bind", Text(local));
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    ::close(fd);
    ThrowErrno(env, EINVAL, "uv_loop", Text(local));
  }
  // A kernel without UDP GSO (before 4.18) would ignore the cmsg and send one large datagram: ask it once.
  static std::atomic<bool> gso_probed{false};
  if (!gso_probed.exchange(true)) {
    int segment = 0;
    socklen_t segment_len = sizeof(segment);
    if (getsockopt(fd, SOL_UDP, UDP_SEGMENT, &segment, &segment_len) < 0) gso_usable_.store(false);
  }
  const int rc = poller_.Start(loop, fd, this, &TransferSocket::OnReadable);  // owns fd from here on
  if (rc < 0) ThrowErrno(env, -rc, "uv_poll_start", Text(local));

  Napi::Buffer<unsigned char> receive_buffer = receive.As<Napi::Buffer<unsigned char>>();
  receive_ref_ = Napi::Persistent(receive_buffer.As<Napi::Object>());
  receive_data_ = receive_buffer.Data();
  receive_length_ = receive_buffer.Length();
  on_message_ = Napi::Persistent(info[1].As<Napi::Function>());
  on_error_ = Napi::Persistent(info[2].As<Napi::Function>());
  // An open socket keeps its JS object (and callbacks) alive, like a dgram socket; close() releases it.
  Napi::ObjectWrap<TransferSocket>::Ref();
  self_ref_ = true;
  open_count_.fetch_add(1, std::memory_order_relaxed);
  counted_ = true;
}

TransferSocket::~TransferSocket() {
  SettleQueued();
  if (counted_) open_count_.fetch_sub(1, std::memory_order_relaxed);
  poller_.Close();
}

void TransferSocket::DoClose() {
  SettleQueued();  // the kernel must read the queued message (and this fd) before they go
  if (counted_) {
    counted_ = false;
    open_count_.fetch_sub(1, std::memory_order_relaxed);
  }
  poller_.Close();
  on_message_.Reset();
  on_error_.Reset();
  receive_ref_.Reset();
  headers_ref_.Reset();
  data_ref_.Reset();
  headers_ = nullptr;
  data_ = nullptr;
  armed_ = false;
  if (self_ref_) {
    self_ref_ = false;
    Napi::ObjectWrap<TransferSocket>::Unref();
  }
}

// send(buf) → bytes sent to the peer, or -1 when the send buffer is full (EAGAIN: the datagram is dropped, the
// retransmission timer covers it, as for any lost datagram). Other errors throw.
Napi::Value TransferSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) ThrowInvalidArg(env, "usage: send(buffer)");
  if (!poller_.IsOpen()) ThrowErrno(env, EBADF, "sendto", "socket is closed");
  SettleQueued();
  Napi::Buffer<unsigned char> buf = info[0].As<Napi::Buffer<unsigned char>>();
  ssize_t n;
  do {
    n = sendto(poller_.fd(), buf.Data(), buf.Length(), MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&peer_), sizeof(peer_));
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, -1);
    ThrowErrno(env, errno, "sendto", Text(peer_));
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// sendTo(buf, port, address): one datagram to someone else than the peer (ERROR 5 to a wrong TID).
Napi::Value TransferSocket::SendTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsBuffer()) ThrowInvalidArg(env, "usage: sendTo(buffer, port, address)");
  if (!poller_.IsOpen()) ThrowErrno(env, EBADF, "sendto", "socket is closed");
  sockaddr_in dest = Endpoint(env, info[2], info[1], false);
  SettleQueued();
  Napi::Buffer<unsigned char> buf = info[0].As<Napi::Buffer<unsigned char>>();
  ssize_t n;
  do {
    n = sendto(poller_.fd(), buf.Data(), buf.Length(), MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&dest), sizeof(dest));
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ThrowErrno(env, errno, "sendto", Text(dest));
  return Napi::Number::New(env, static_cast<double>(n));
}

// setSource(headers, data, blksize): what sendBlocks sends from, for the rest of the transfer. Block `index` (1-based,
// absolute) is headers[(index & 0xffff) * 4, +4) followed by data[(index-1) * blksize, + min(blksize, rest)) — the
// last block may be empty (RFC 1350 §6). Both buffers are kept referenced and must not change.
Napi::Value TransferSocket::SetSource(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsBuffer() || !info[1].IsBuffer()) {
    ThrowInvalidArg(env, "usage: setSource(headers, data, blksize)");
  }
  Napi::Buffer<unsigned char> headers = info[0].As<Napi::Buffer<unsigned char>>();
  Napi::Buffer<unsigned char> data = info[1].As<Napi::Buffer<unsigned char>>();
  if (headers.Length() != kHeaderTableLength) ThrowInvalidArg(env, "headers must be the 65536-entry DATA header table");
  blksize_ = static_cast<int64_t>(NumberArg(env, info[2], "blksize", 8, 65464));
  SettleQueued();  // a queued block still points into the buffers being replaced
  headers_ref_ = Napi::Persistent(headers.As<Napi::Object>());
  data_ref_ = Napi::Persistent(data.As<Napi::Object>());
  headers_ = headers.Data();
  data_ = data.Data();
  data_length_ = static_cast<int64_t>(data.Length());
  return env.Undefined();
}

// sendBlocks(firstIndex, count[, trigger, armFirst, armCount]) → datagrams sent (fewer when the send buffer filled up: those are lost, and the
// retransmission timer covers them). One block is one sendmsg; a window is sendmmsg, kBatch datagrams per call.
Napi::Value TransferSocket::SendBlocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2) ThrowInvalidArg(env, "usage: sendBlocks(firstIndex, count[, trigger, armFirst, armCount])");
  if (!poller_.IsOpen()) ThrowErrno(env, EBADF, "sendmmsg", "socket is closed");
  if (data_ == nullptr) ThrowInvalidArg(env, "setSource() was not called");
  const int64_t first = static_cast<int64_t>(NumberArg(env, info[0], "firstIndex", 1, 9007199254740991.0));
  const int64_t count = static_cast<int64_t>(NumberArg(env, info[1], "count", 0, 65535));
  if (count > 0 && (first + count - 2) * blksize_ > data_length_) ThrowInvalidArg(env, "blocks beyond the end of data");
  // Optional (trigger, armFirst, armCount): arm the next reply in the same call (see armReply).
  if (info.Length() >= 5) {
    const double trigger = NumberArg(env, info[2], "trigger", 0, 4294967295.0);
    const int64_t arm_first = static_cast<int64_t>(NumberArg(env, info[3], "armFirst", 1, 9007199254740991.0));
    const int64_t arm_count = static_cast<int64_t>(NumberArg(env, info[4], "armCount", 0, 65535));
    if (arm_count > 0 && (arm_first + arm_count - 2) * blksize_ > data_length_) {
      ThrowInvalidArg(env, "armed blocks beyond the end of data");
    }
    armed_ = arm_count > 0;
    chained_ = 0;
    trigger_ = static_cast<uint32_t>(trigger);
    armed_first_ = arm_first;
    armed_count_ = arm_count;
  }
  const int64_t sent = SendBlocksFromSource(first, count);
  if (sent < 0) ThrowErrno(env, static_cast<int>(-sent), "sendmmsg", Text(peer_));
  return Napi::Number::New(env, static_cast<double>(sent));
}

// armReply(trigger, firstIndex, count): the next datagram from the peer that is exactly the 4 bytes `trigger`
// (big-endian) makes the socket send blocks firstIndex .. firstIndex+count-1 at once, before JS hears of it; the
// callback then gets preSent = true. One-shot; count 0 disarms. The caller decides what trigger and blocks are (for
// TFTP: the ACK of the last block sent, and the window the state machine answers it with).
Napi::Value TransferSocket::ArmReply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) ThrowInvalidArg(env, "usage: armReply(trigger, firstIndex, count)");
  const double trigger = NumberArg(env, info[0], "trigger", 0, 4294967295.0);
  const int64_t first = static_cast<int64_t>(NumberArg(env, info[1], "firstIndex", 1, 9007199254740991.0));
  const int64_t count = static_cast<int64_t>(NumberArg(env, info[2], "count", 0, 65535));
  if (count > 0 && data_ == nullptr) ThrowInvalidArg(env, "setSource() was not called");
  if (count > 0 && (first + count - 2) * blksize_ > data_length_) ThrowInvalidArg(env, "blocks beyond the end of data");
  armed_ = count > 0;
  chained_ = 0;
  trigger_ = static_cast<uint32_t>(trigger);
  armed_first_ = first;
  armed_count_ = count;
  return env.Undefined();
}

// setChain(windowsize, totalBlocks, budget): see the header. budget 0 turns chaining off. Only the RFC 7440 rule
// "the ACK of the last block sent is answered by the next windowsize blocks" is applied here; anything else (a
// duplicate, an ACK in the middle of a window, an ERROR, the last ACK) reaches JS, whose state machine decides.
Napi::Value TransferSocket::SetChain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3) ThrowInvalidArg(env, "usage: setChain(windowsize, totalBlocks, budget[, spinMicros])");
  chain_windowsize_ = static_cast<int64_t>(NumberArg(env, info[0], "windowsize", 1, 65535));
  chain_total_ = static_cast<int64_t>(NumberArg(env, info[1], "totalBlocks", 0, 9007199254740991.0));
  chain_budget_ = static_cast<int64_t>(NumberArg(env, info[2], "budget", 0, 1048576));
  spin_ns_ = info.Length() >= 4 ? static_cast<int64_t>(NumberArg(env, info[3], "spinMicros", 0, 10000)) * 1000 : 0;
  spin_hot_ = true;
  if (chain_total_ > 0 && data_ != nullptr && (chain_total_ - 1) * blksize_ > data_length_) {
    ThrowInvalidArg(env, "totalBlocks beyond the end of data");
  }
  return env.Undefined();
}

// Pulls the armed window's bytes (its first 16 KiB) into the CPU cache while the client is still answering: the
// copy into the socket buffer, when its ACK arrives, then reads cached lines. With many transfers at different
// offsets of a file, that copy was otherwise a run of cache misses on every block.
void TransferSocket::PrefetchArmed() const {
  if (data_ == nullptr || armed_count_ <= 0) return;
  const int64_t offset = (armed_first_ - 1) * blksize_;
  const int64_t end = std::min<int64_t>({data_length_, offset + armed_count_ * blksize_, offset + 16384});
  for (int64_t at = offset; at < end; at += 64) __builtin_prefetch(data_ + at, 0, 3);
}

// Called right after a chained window left. True when a datagram is waiting (the caller reads it now); false when
// the caller should go back to the event loop: spinning is off, another transfer is open, or the budget ran out.
bool TransferSocket::SpinForPeer() {
  if (spin_ns_ <= 0 || open_count_.load(std::memory_order_relaxed) != 1) return false;
  const int64_t start = NowNs();
  if (!spin_hot_) {
    last_send_ns_ = start;  // OnReadable compares the wake-up with this
    return false;
  }
  const int64_t deadline = start + spin_ns_;
  char probe;
  do {
    // MSG_PEEK: only whether a datagram is queued; the caller's recvfrom reads it (or its error).
    const ssize_t n = recv(poller_.fd(), &probe, sizeof(probe), MSG_PEEK | MSG_DONTWAIT);
    if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      spin_hits_++;
      return true;
    }
    CpuRelax();
  } while (NowNs() < deadline);
  spin_hot_ = false;
  spin_misses_++;
  last_send_ns_ = deadline;
  return false;
}

// stats() → { gsoSends, spinHits, spinMisses } of this socket.
Napi::Value TransferSocket::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("gsoSends", Napi::Number::New(env, static_cast<double>(gso_sends_)));
  out.Set("spinHits", Napi::Number::New(env, static_cast<double>(spin_hits_)));
  out.Set("spinMisses", Napi::Number::New(env, static_cast<double>(spin_misses_)));
  return out;
}

// TransferSocket.loopSpinStats() → { spins, iterations, yields, running } of this thread's event loop (LoopSpin).
Napi::Value TransferSocket::LoopSpinStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const LoopSpin::Stats st = LoopSpin::Get();
  Napi::Object out = Napi::Object::New(env);
  out.Set("spins", Napi::Number::New(env, static_cast<double>(st.spins)));
  out.Set("iterations", Napi::Number::New(env, static_cast<double>(st.iterations)));
  out.Set("yields", Napi::Number::New(env, static_cast<double>(st.yields)));
  out.Set("running", Napi::Boolean::New(env, st.running));
  return out;
}

// TransferSocket.setRing(enabled) → the previous value: lock-step blocks of concurrent transfers batched through
// io_uring (the default, where the kernel allows it) or each sent at once.
Napi::Value TransferSocket::SetRing(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) ThrowInvalidArg(env, "usage: TransferSocket.setRing(enabled)");
  return Napi::Boolean::New(env, SendRing::SetEnabled(info[0].As<Napi::Boolean>().Value()));
}

// TransferSocket.ringStats() → { available, submits, sends, failed } of this thread's SendRing.
Napi::Value TransferSocket::RingStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  const bool available = SendRing::Get(env, loop) != nullptr;
  const SendRing::Stats st = SendRing::GetStats();
  Napi::Object out = Napi::Object::New(env);
  out.Set("available", Napi::Boolean::New(env, available));
  out.Set("submits", Napi::Number::New(env, static_cast<double>(st.submits)));
  out.Set("sends", Napi::Number::New(env, static_cast<double>(st.sends)));
  out.Set("failed", Napi::Number::New(env, static_cast<double>(st.failed)));
  return out;
}

// TransferSocket.setGso(enabled) → whether GSO was usable before: windows as one GSO send (the default) or sendmmsg.
// Turning it back on only helps where the kernel accepts it (it is switched off again at the first refusal).
Napi::Value TransferSocket::SetGso(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) ThrowInvalidArg(env, "usage: TransferSocket.setGso(enabled)");
  const bool before = gso_usable_.exchange(info[0].As<Napi::Boolean>().Value(), std::memory_order_relaxed);
  return Napi::Boolean::New(env, before);
}

// takeChained() → the armed ACKs handled by chaining since JS last heard (and resets the count).
Napi::Value TransferSocket::TakeChained(const Napi::CallbackInfo& info) {
  const int64_t n = chained_;
  chained_ = 0;
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// UDP GSO (UDP_SEGMENT, Linux 4.18): a window leaves as one sendmsg whose payload the kernel cuts into datagrams of
// gso_size bytes (the last may be shorter), so the stack is traversed once per window rather than once per block.
// sendmmsg is used instead: for the rest of the process once the kernel cannot (an old kernel, or a device that cannot
// offload the UDP checksum: EIO), for this socket once its datagrams exceed the route's MTU (EMSGSIZE/EINVAL).
std::atomic<bool> TransferSocket::gso_usable_{true};

int64_t TransferSocket::SendBlocksGso(int64_t first, int64_t count, bool* refused) {
  // The kernel takes at most 64 KiB per GSO send and, before Linux 5.x, at most 64 segments.
  const int64_t segment = kHeaderLength + blksize_;
  const int64_t per_call = std::min<int64_t>(kBatch, 65000 / segment);
  iovec iov[2 * kBatch];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))];
  int64_t sent = 0;
  while (sent < count) {
    const int64_t batch = std::min<int64_t>(per_call, count - sent);
    size_t iovcnt = 0;
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t index = first + sent + i;
      const int64_t offset = (index - 1) * blksize_;
      const int64_t len = std::min<int64_t>(blksize_, data_length_ - offset);
      iov[iovcnt].iov_base = const_cast<unsigned char*>(headers_ + (index & 0xffff) * kHeaderLength);
      iov[iovcnt++].iov_len = kHeaderLength;
      if (len > 0) {
        iov[iovcnt].iov_base = const_cast<unsigned char*>(data_ + offset);
        iov[iovcnt++].iov_len = static_cast<size_t>(len);
      }
    }
    msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &peer_;
    msg.msg_namelen = sizeof(peer_);
    msg.msg_iov = iov;
    msg.msg_iovlen = iovcnt;
    if (batch > 1) {
      // Only the file's last block can be short, and it is always the last of its window: every segment but the
      // last is exactly `segment` bytes, as GSO requires.
      memset(control, 0, sizeof(control));
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* cm = CMSG_FIRSTHDR(&msg);
      cm->cmsg_level = SOL_UDP;
      cm->cmsg_type = UDP_SEGMENT;
      cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const uint16_t gso_size = static_cast<uint16_t>(segment);
      memcpy(CMSG_DATA(cm), &gso_size, sizeof(gso_size));
    }
    ssize_t n;
    do {
      n = sendmsg(poller_.fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break;
      if (batch > 1 && (errno == EIO || errno == EINVAL || errno == EMSGSIZE || errno == EOPNOTSUPP || errno == ENOPROTOOPT)) {
        // EMSGSIZE/EINVAL: this socket's datagrams do not fit the route's MTU unfragmented (a client's large blksize),
        // which GSO cannot do: sendmmsg (the kernel fragments) for this socket. The others: the kernel or the device
        // cannot do GSO at all: for every socket.
        if (errno == EINVAL || errno == EMSGSIZE) gso_ok_ = false;
        else gso_usable_.store(false, std::memory_order_relaxed);
        *refused = true;  // the caller sends the rest, from block first + sent, by sendmmsg
        return sent;
      }
      return -errno;
    }
    sent += batch;
    if (batch > 1) gso_sends_++;
  }
  return sent;
}

void TransferSocket::SettleQueued() {
  if (!queued_any_) return;
  queued_any_ = false;
  SendRing::FlushIfPending(queued_generation_);
}

bool TransferSocket::QueueBlock(int64_t index) {
  SendRing* ring = SendRing::Get(Env(), poller_.loop());
  if (ring == nullptr) return false;
  SettleQueued();  // this socket's previous message may still be queued: it is about to be overwritten
  const int64_t offset = (index - 1) * blksize_;
  const int64_t len = std::min<int64_t>(blksize_, data_length_ - offset);
  queued_iov_[0].iov_base = const_cast<unsigned char*>(headers_ + (index & 0xffff) * kHeaderLength);
  queued_iov_[0].iov_len = kHeaderLength;
  queued_iov_[1].iov_base = const_cast<unsigned char*>(data_ + offset);
  queued_iov_[1].iov_len = static_cast<size_t>(std::max<int64_t>(len, 0));
  memset(&queued_msg_, 0, sizeof(queued_msg_));
  queued_msg_.msg_name = &peer_;
  queued_msg_.msg_namelen = sizeof(peer_);
  queued_msg_.msg_iov = queued_iov_;
  queued_msg_.msg_iovlen = len > 0 ? 2 : 1;
  if (!ring->Queue(poller_.fd(), &queued_msg_)) return false;
  queued_generation_ = ring->generation();
  queued_any_ = true;
  return true;
}

int64_t TransferSocket::SendBlocksFromSource(int64_t first, int64_t count) {
  SettleQueued();
  if (count > 1 && gso_ok_ && gso_usable_.load(std::memory_order_relaxed)) {
    bool refused = false;
    const int64_t done = SendBlocksGso(first, count, &refused);
    if (!refused) return done;
    const int64_t rest = SendBlocksMmsg(first + done, count - done);
    return rest < 0 ? rest : done + rest;
  }
  return SendBlocksMmsg(first, count);
}

int64_t TransferSocket::SendBlocksMmsg(int64_t first, int64_t count) {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch][2];
  int64_t sent = 0;
  while (sent < count) {
    const unsigned batch = static_cast<unsigned>(std::min<int64_t>(kBatch, count - sent));
    for (unsigned i = 0; i < batch; ++i) {
      const int64_t index = first + sent + i;
      const int64_t offset = (index - 1) * blksize_;
      const int64_t len = std::min<int64_t>(blksize_, data_length_ - offset);
      iov[i][0].iov_base = const_cast<unsigned char*>(headers_ + (index & 0xffff) * kHeaderLength);
      iov[i][0].iov_len = kHeaderLength;
      iov[i][1].iov_base = const_cast<unsigned char*>(data_ + offset);
      iov[i][1].iov_len = static_cast<size_t>(len);
      memset(&msgs[i], 0, sizeof(msgs[i]));
      msgs[i].msg_hdr.msg_name = &peer_;
      msgs[i].msg_hdr.msg_namelen = sizeof(peer_);
      msgs[i].msg_hdr.msg_iov = iov[i];
      msgs[i].msg_hdr.msg_iovlen = len > 0 ? 2 : 1;
    }
    int n;
    do {
      if (batch == 1) {
        // Lock-step (RFC 1350): plain sendmsg, cheaper than a one-entry sendmmsg.
        n = sendmsg(poller_.fd(), &msgs[0].msg_hdr, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -1 : 1;
      } else {
        n = sendmmsg(poller_.fd(), msgs, batch, MSG_DONTWAIT | MSG_NOSIGNAL);
      }
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break;
      return -errno;
    }
    sent += n;
    if (static_cast<unsigned>(n) < batch) break;
  }
  return sent;
}

Napi::Value TransferSocket::Close(const Napi::CallbackInfo& info) {
  DoClose();
  return info.Env().Undefined();
}

Napi::Value TransferSocket::Address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!poller_.IsOpen()) ThrowErrno(env, EBADF, "getsockname", "socket is closed");
  sockaddr_in sa;
  socklen_t len = sizeof(sa);
  memset(&sa, 0, sizeof(sa));
  if (getsockname(poller_.fd(), reinterpret_cast<sockaddr*>(&sa), &len) < 0) ThrowErrno(env, errno, "getsockname", "");
  char text[INET_ADDRSTRLEN] = {0};
  inet_ntop(AF_INET, &sa.sin_addr, text, sizeof(text));
  Napi::Object out = Napi::Object::New(env);
  out.Set("address", Napi::String::New(env, text));
  out.Set("port", Napi::Number::New(env, ntohs(sa.sin_port)));
  return out;
}

Napi::Value TransferSocket::Unref(const Napi::CallbackInfo& info) {
  poller_.SetRef(false);
  return info.This();
}

// What a readable event needs to call JS, opened only once a datagram must reach JS: an ACK the socket answers by
// itself (the chained path, nearly every block of a transfer) costs no handle or callback scope. Opened once per
// event, it stays open for every datagram of that event; closed in reverse order when the event ends.
class TransferSocket::JsScope {
 public:
  explicit JsScope(TransferSocket* socket) : socket_(socket) {}
  const Napi::Object& Enter() {
    if (!handle_scope_) {
      Napi::Env env = socket_->Env();
      handle_scope_.emplace(env);
      // Holding the JS object in this scope keeps it (and so the socket) alive even if a callback closes it.
      self_ = socket_->Value();
      // One callback scope for every datagram of this event: nextTicks and microtasks run when it closes, as after
      // any I/O callback.
      callback_scope_.emplace(env, socket_->async_context_);
    }
    return self_;
  }

 private:
  TransferSocket* socket_;
  std::optional<Napi::HandleScope> handle_scope_;
  Napi::Object self_;
  std::optional<Napi::CallbackScope> callback_scope_;  // declared last: closed first
};

void TransferSocket::OnReadable(void* owner, int status) {
  auto* self = static_cast<TransferSocket*>(owner);
  JsScope js(self);
  if (self->spin_ns_ > 0 && !self->spin_hot_ && self->last_send_ns_ > 0) {
    // Spinning is off since a wait ran out: back on when the peer answered within the budget again, unless waits ran
    // out kMaxSpinMisses times already (a peer that is fast only now and then: an emulated PC, a loaded host).
    if (NowNs() - self->last_send_ns_ < self->spin_ns_ && self->spin_misses_ < kMaxSpinMisses) self->spin_hot_ = true;
    self->last_send_ns_ = 0;
  }
  // Two or more transfers open: keep the loop polling for the next ACK (of this transfer or another) for a while.
  LoopSpin::Note(self->Env(), self->poller_.loop(), self->spin_ns_, open_count_.load(std::memory_order_relaxed) >= 2);
  if (status < 0) {
    const Napi::Object& js_self = js.Enter();
    Napi::Error err = ErrnoError(self->Env(), -status, "poll", Text(self->peer_));
    self->Report(js_self, self->on_error_, {err.Value()});
    return;
  }
  self->Drain(js);
}

bool TransferSocket::Report(const Napi::Object& js_self, const Napi::FunctionReference& fn,
                            const std::initializer_list<napi_value>& args) {
  if (fn.IsEmpty()) return true;
  try {
    fn.Call(js_self, args);
    return true;
  } catch (const Napi::Error& e) {
    napi_fatal_exception(Env(), e.Value());  // like a throwing 'message' listener on a dgram socket
    return false;
  }
}

void TransferSocket::Drain(JsScope& js) {
  Napi::Env env = Env();
  for (int i = 0; i < kMaxPerWakeup && poller_.IsOpen(); ++i) {
    sockaddr_in from;
    socklen_t from_len = sizeof(from);
    memset(&from, 0, sizeof(from));
    // MSG_TRUNC: the datagram's real length comes back even when it did not fit (JS treats that as malformed).
    const ssize_t n = recvfrom(poller_.fd(), receive_data_, receive_length_, MSG_DONTWAIT | MSG_TRUNC,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // ECONNREFUSED and the like from an ICMP error: not fatal for an unconnected socket; let JS decide.
      const int err_no = errno;
      const Napi::Object& js_self = js.Enter();
      Napi::Error err = ErrnoError(env, err_no, "recvfrom", Text(peer_));
      Report(js_self, on_error_, {err.Value()});
      return;
    }
    const bool from_peer = from.sin_addr.s_addr == peer_.sin_addr.s_addr && from.sin_port == peer_.sin_port;
    bool ok;
    bool pre_sent_any = false;
    if (from_peer) {
      bool pre_sent = false;
      if (armed_ && n == 4 && data_ != nullptr) {
        const uint32_t word = (static_cast<uint32_t>(receive_data_[0]) << 24) |
                              (static_cast<uint32_t>(receive_data_[1]) << 16) |
                              (static_cast<uint32_t>(receive_data_[2]) << 8) | static_cast<uint32_t>(receive_data_[3]);
        if (word == trigger_) {
          armed_ = false;
          // A failed send is a lost window: the retransmission timer covers it, as for any loss. A lone block with
          // other transfers open leaves with theirs after the poll phase (SendRing).
          if (!(armed_count_ == 1 && open_count_.load(std::memory_order_relaxed) >= 2 && QueueBlock(armed_first_))) {
            SendBlocksFromSource(armed_first_, armed_count_);
          }
          pre_sent = true;
          pre_sent_any = true;
          const int64_t next_first = armed_first_ + armed_count_;
          if (chained_ < chain_budget_ && armed_count_ > 0 && next_first <= chain_total_) {
            // Chain: arm the window that answers this window's last ACK, and JS does not hear of this ACK now.
            const int64_t last = next_first - 1;
            trigger_ = (4u << 16) | static_cast<uint32_t>(last & 0xffff);  // ACK opcode 4, block `last` mod 65536
            armed_first_ = next_first;
            armed_count_ = std::min<int64_t>(chain_windowsize_, chain_total_ - last);
            armed_ = true;
            chained_++;
            PrefetchArmed();
            // The client cannot have answered the window that just left yet: rather than a read that would only
            // find EAGAIN, either wait for its ACK here (SpinForPeer) or go back to the event loop, whose poll is
            // level-triggered, so anything queued wakes us again.
            if (SpinForPeer()) continue;
            return;
          }
        }
      }
      const int64_t chained = chained_;
      chained_ = 0;
      const Napi::Object& js_self = js.Enter();
      Napi::HandleScope scope(env);  // this datagram's arguments
      ok = Report(js_self, on_message_,
                  {Napi::Number::New(env, static_cast<double>(n)), Napi::Boolean::New(env, true), env.Undefined(),
                   env.Undefined(), Napi::Boolean::New(env, pre_sent),
                   Napi::Number::New(env, static_cast<double>(chained))});
    } else {
      char text[INET_ADDRSTRLEN] = {0};
      inet_ntop(AF_INET, &from.sin_addr, text, sizeof(text));
      const int64_t chained = chained_;
      chained_ = 0;
      const Napi::Object& js_self = js.Enter();
      Napi::HandleScope scope(env);  // this datagram's arguments
      ok = Report(js_self, on_message_,
                  {Napi::Number::New(env, static_cast<double>(n)), Napi::Boolean::New(env, false),
                   Napi::String::New(env, text), Napi::Number::New(env, ntohs(from.sin_port)),
                   Napi::Boolean::New(env, false), Napi::Number::New(env, static_cast<double>(chained))});
    }
    if (!ok || pre_sent_any) return;  // after a pre-sent window, as above: no read that would only find EAGAIN
  }
}

}  // namespace dls
