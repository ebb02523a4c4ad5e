#include "udp_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"

namespace dls {

namespace {

// The largest UDP payload over IPv4 is 65507 bytes; one extra page keeps MSG_TRUNC impossible.
constexpr size_t kBufferSize = 65536;
// Datagrams handed to JS per readable event before yielding to the rest of the event loop.
constexpr int kMaxPerWakeup = 64;

void SetIntOpt(Napi::Env env, int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) ThrowErrno(env, errno, "setsockopt", what);
}

std::string Ipv4ToString(const in_addr& addr) {
  char text[INET_ADDRSTRLEN] = {0};
  if (inet_ntop(AF_INET, &addr, text, sizeof(text)) == nullptr) return std::string();
  return std::string(text);
}

sockaddr_in ParseEndpoint(Napi::Env env, const Napi::Value& address, const Napi::Value& port, bool allow_port_zero) {
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

}  // namespace

Napi::Function UdpSocket::Init(Napi::Env env) {
  return DefineClass(env, "UdpSocket",
                     {
                         InstanceMethod<&UdpSocket::Send>("send"),
                         InstanceMethod<&UdpSocket::Close>("close"),
                         InstanceMethod<&UdpSocket::Address>("address"),
                         InstanceMethod<&UdpSocket::Ref>("ref"),
                         InstanceMethod<&UdpSocket::Unref>("unref"),
                     });
}

UdpSocket::UdpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpSocket>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsFunction()) {
    ThrowInvalidArg(env, "usage: new UdpSocket({ interface?, address, port }, onMessage, onError)");
  }
  Napi::Object opts = info[0].As<Napi::Object>();
  Napi::Value ifname = opts.Get("interface");
  if (!ifname.IsUndefined() && !ifname.IsNull()) ifname_ = InterfaceNameArg(env, ifname);
  sockaddr_in local = ParseEndpoint(env, opts.Get("address"), opts.Get("port"), true);
  const std::string where = Ipv4ToString(local.sin_addr) + ":" + std::to_string(ntohs(local.sin_port)) +
                            (ifname_.empty() ? "" : "%" + ifname_);

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket", where);
  struct FdGuard {
    int fd;
    ~FdGuard() {
      if (fd >= 0) ::close(fd);
    }
  } guard{fd};

  SetIntOpt(env, fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
  SetIntOpt(env, fd, SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST");
  if (!ifname_.empty() &&
      setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname_.c_str(), static_cast<socklen_t>(ifname_.size() + 1)) < 0) {
    ThrowErrno(env, errno, "setsockopt", "SO_BINDTODEVICE " + ifname_);
  }
  SetIntOpt(env, fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
  if (bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof(local)) < 0) ThrowErrno(env, errno, "bind", where);

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) ThrowErrno(env, EINVAL, "uv_loop", where);
  guard.fd = -1;  // the poller owns the fd from here on, even if Start fails
  const int rc = poller_.Start(loop, fd, this, &UdpSocket::OnReadable);
  if (rc < 0) ThrowErrno(env, -rc, "uv_poll_start", where);

  buffer_.resize(kBufferSize);
  on_message_ = Napi::Persistent(info[1].As<Napi::Function>());
  on_error_ = Napi::Persistent(info[2].As<Napi::Function>());
  // An open socket keeps its JS object (and callbacks) alive, like a dgram socket; close() releases it.
  Napi::ObjectWrap<UdpSocket>::Ref();
  self_ref_ = true;
}

UdpSocket::~UdpSocket() { poller_.Close(); }

void UdpSocket::DoClose() {
  poller_.Close();
  on_message_.Reset();
  on_error_.Reset();
  if (self_ref_) {
    self_ref_ = false;
    Napi::ObjectWrap<UdpSocket>::Unref();
  }
}

Napi::Value UdpSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsBuffer()) ThrowInvalidArg(env, "usage: send(buffer, port, address)");
  sockaddr_in dest = ParseEndpoint(env, info[2], info[1], false);
  if (!poller_.IsOpen()) ThrowErrno(env, EBADF, "sendto", "socket is closed");
  Napi::Buffer<unsigned char> buf = info[0].As<Napi::Buffer<unsigned char>>();
  ssize_t n;
  do {
    n = sendto(poller_.fd(), buf.Data(), buf.Length(), MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&dest), sizeof(dest));
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    ThrowErrno(env, errno, "sendto", Ipv4ToString(dest.sin_addr) + ":" + std::to_string(ntohs(dest.sin_port)));
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value UdpSocket::Close(const Napi::CallbackInfo& info) {
  DoClose();
  return info.Env().Undefined();
}

Napi::Value UdpSocket::Address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!poller_.IsOpen()) ThrowErrno(env, EBADF, "getsockname", "socket is closed");
  sockaddr_in sa;
  socklen_t len = sizeof(sa);
  memset(&sa, 0, sizeof(sa));
  if (getsockname(poller_.fd(), reinterpret_cast<sockaddr*>(&sa), &len) < 0) ThrowErrno(env, errno, "getsockname", "");
  Napi::Object out = Napi::Object::New(env);
  out.Set("address", Ipv4ToString(sa.sin_addr));
  out.Set("port", Napi::Number::New(env, ntohs(sa.sin_port)));
  return out;
}

Napi::Value UdpSocket::Ref(const Napi::CallbackInfo& info) {
  poller_.SetRef(true);
  return info.This();
}

Napi::Value UdpSocket::Unref(const Napi::CallbackInfo& info) {
  poller_.SetRef(false);
  return info.This();
}

void UdpSocket::OnReadable(void* owner, int status) {
  auto* self = static_cast<UdpSocket*>(owner);
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  // Holding the JS object in this scope keeps it (and so `self`) alive even if a callback closes the socket.
  Napi::Object js_self = self->Value();
  if (status < 0) {
    Napi::Error err = ErrnoError(env, -status, "poll", self->ifname_);
    CallFromLoop(env, js_self, self->on_error_, {err.Value()});
    return;
  }
  self->Drain(js_self);
}

void UdpSocket::Drain(const Napi::Object& js_self) {
  Napi::Env env = Env();
  for (int i = 0; i < kMaxPerWakeup && poller_.IsOpen(); ++i) {
    Napi::HandleScope scope(env);
    sockaddr_in from;
    memset(&from, 0, sizeof(from));
    iovec iov{buffer_.data(), buffer_.size()};
    union {
      cmsghdr align;
      char bytes[CMSG_SPACE(sizeof(in_pktinfo)) + 64];
    } control;
    msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof(control.bytes);

    const ssize_t n = recvmsg(poller_.fd(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      Napi::Error err = ErrnoError(env, errno, "recvmsg", ifname_);
      CallFromLoop(env, js_self, on_error_, {err.Value()});
      return;
    }

    in_pktinfo pktinfo;
    bool have_pktinfo = false;
    memset(&pktinfo, 0, sizeof(pktinfo));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
        memcpy(&pktinfo, CMSG_DATA(c), sizeof(pktinfo));
        have_pktinfo = true;
      }
    }

    Napi::Object meta = Napi::Object::New(env);
    meta.Set("address", Ipv4ToString(from.sin_addr));
    meta.Set("port", Napi::Number::New(env, ntohs(from.sin_port)));
    if (have_pktinfo) {
      meta.Set("ifindex", Napi::Number::New(env, pktinfo.ipi_ifindex));
      meta.Set("localAddress", Ipv4ToString(pktinfo.ipi_spec_dst));
      meta.Set("destination", Ipv4ToString(pktinfo.ipi_addr));
    } else {
      meta.Set("ifindex", Napi::Number::New(env, 0));
      meta.Set("localAddress", env.Null());
      meta.Set("destination", env.Null());
    }
    meta.Set("truncated", Napi::Boolean::New(env, (msg.msg_flags & MSG_TRUNC) != 0));
    Napi::Buffer<unsigned char> data =
        Napi::Buffer<unsigned char>::Copy(env, buffer_.data(), static_cast<size_t>(n));
    if (!CallFromLoop(env, js_self, on_message_, {data, meta})) return;
  }
}

}  // namespace dls
