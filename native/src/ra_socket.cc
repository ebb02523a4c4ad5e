#include "ra_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"

namespace dls {

namespace {

// Neighbor Discovery messages fit in one link MTU; 64 KiB bounds anything the kernel could hand us.
constexpr size_t kBufferSize = 65536;
constexpr int kMaxPerWakeup = 64;
// RFC 4861 §6.1.1, §6.1.2: ND messages are sent and accepted only with IP hop limit 255.
constexpr int kNdHopLimit = 255;
// RFC 4291 §2.7.1: all-routers link-local multicast group, joined to hear router solicitations.
constexpr char kAllRouters[] = "ff02::2";

void SetIntOpt(Napi::Env env, int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) ThrowErrno(env, errno, "setsockopt", what);
}

std::string Ipv6ToString(const in6_addr& addr) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (inet_ntop(AF_INET6, &addr, text, sizeof(text)) == nullptr) return std::string();
  return std::string(text);
}

}  // namespace

Napi::Function RaSocket::Init(Napi::Env env) {
  return DefineClass(env, "RaSocket",
                     {
                         InstanceMethod<&RaSocket::Send>("send"),
                         InstanceMethod<&RaSocket::Close>("close"),
                         InstanceMethod<&RaSocket::Ref>("ref"),
                         InstanceMethod<&RaSocket::Unref>("unref"),
                         InstanceAccessor<&RaSocket::GetIfindex>("ifindex"),
                     });
}

RaSocket::RaSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RaSocket>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[1].IsArray() || !info[2].IsFunction() || !info[3].IsFunction()) {
    ThrowInvalidArg(env, "usage: new RaSocket(interface, icmpTypes, onMessage, onError)");
  }
  ifname_ = InterfaceNameArg(env, info[0]);
  ICMP6_FILTER_SETBLOCKALL(&filter_);
  bool wants_rs = false;
  Napi::Array types = info[1].As<Napi::Array>();
  if (types.Length() == 0 || types.Length() > 256) ThrowInvalidArg(env, "icmpTypes must list 1-256 types");
  for (uint32_t i = 0; i < types.Length(); ++i) {
    Napi::Value v = types.Get(i);
    const double t = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(t >= 0 && t <= 255) || t != static_cast<double>(static_cast<int>(t))) {
      ThrowInvalidArg(env, "icmpTypes must be integers 0-255");
    }
    ICMP6_FILTER_SETPASS(static_cast<int>(t), &filter_);
    if (static_cast<int>(t) == ND_ROUTER_SOLICIT) wants_rs = true;
  }

  ifindex_ = if_nametoindex(ifname_.c_str());
  if (ifindex_ == 0) ThrowErrno(env, errno == 0 ? ENODEV : errno, "if_nametoindex", ifname_);

  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) ThrowErrno(env, errno, "socket", "raw ICMPv6 " + ifname_);
  struct FdGuard {
    int fd;
    ~FdGuard() {
      if (fd >= 0) ::close(fd);
    }
  } guard{fd};

  // Filter first, so nothing but the wanted types is ever queued (RFC 3542 §3.2).
  if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter_, sizeof(filter_)) < 0) {
    ThrowErrno(env, errno, "setsockopt", "ICMP6_FILTER");
  }
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname_.c_str(), static_cast<socklen_t>(ifname_.size() + 1)) < 0) {
    ThrowErrno(env, errno, "setsockopt", "SO_BINDTODEVICE " + ifname_);
  }
  SetIntOpt(env, fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, kNdHopLimit, "IPV6_MULTICAST_HOPS");
  SetIntOpt(env, fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, kNdHopLimit, "IPV6_UNICAST_HOPS");
  SetIntOpt(env, fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, static_cast<int>(ifindex_), "IPV6_MULTICAST_IF");
  SetIntOpt(env, fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP");
  SetIntOpt(env, fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT");
  SetIntOpt(env, fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
  if (wants_rs) {
    ipv6_mreq mreq;
    memset(&mreq, 0, sizeof(mreq));
    if (inet_pton(AF_INET6, kAllRouters, &mreq.ipv6mr_multiaddr) != 1) {
      ThrowErrno(env, EINVAL, "inet_pton", kAllRouters);
    }
    mreq.ipv6mr_interface = ifindex_;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq, sizeof(mreq)) < 0) {
      ThrowErrno(env, errno, "setsockopt", std::string("IPV6_JOIN_GROUP ") + kAllRouters + "%" + ifname_);
    }
  }

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) ThrowErrno(env, EINVAL, "uv_loop", ifname_);
  guard.fd = -1;
  const int rc = poller_.Start(loop, fd, this, &RaSocket::OnReadable);
  if (rc < 0) ThrowErrno(env, -rc, "uv_poll_start", ifname_);

  buffer_.resize(kBufferSize);
  on_message_ = Napi::Persistent(info[2].As<Napi::Function>());
  on_error_ = Napi::Persistent(info[3].As<Napi::Function>());
  Napi::ObjectWrap<RaSocket>::Ref();
  self_ref_ = true;
}

RaSocket::~RaSocket() { poller_.Close(); }

void RaSocket::DoClose() {
  poller_.Close();  // closing the socket also leaves the multicast group
  on_message_.Reset();
  on_error_.Reset();
  if (self_ref_) {
    self_ref_ = false;
    Napi::ObjectWrap<RaSocket>::Unref();
  }
}

Napi::Value RaSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsString()) {
    ThrowInvalidArg(env, "usage: send(icmpv6Message, destinationAddress)");
  }
  Napi::Buffer<unsigned char> buf = info[0].As<Napi::Buffer<unsigned char>>();
  if (buf.Length() < 4) ThrowInvalidArg(env, "an ICMPv6 message has at least 4 bytes (RFC 4443 §2.1)");
  const std::string text = info[1].As<Napi::String>().Utf8Value();
  sockaddr_in6 dest;
  memset(&dest, 0, sizeof(dest));
  dest.sin6_family = AF_INET6;
  if (inet_pton(AF_INET6, text.c_str(), &dest.sin6_addr) != 1) ThrowInvalidArg(env, "not an IPv6 address: " + text);
  // Link-local and multicast destinations need the zone; for the others the bound device decides anyway.
  dest.sin6_scope_id = ifindex_;
  if (!poller_.IsOpen()) ThrowErrno(env, EBADF, "sendto", "socket is closed");
  ssize_t n;
  do {
    // The kernel fills in the ICMPv6 checksum on raw ICMPv6 sockets (RFC 3542 §3.1).
    n = sendto(poller_.fd(), buf.Data(), buf.Length(), MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&dest), sizeof(dest));
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, errno, "sendto", text + "%" + ifname_);
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value RaSocket::Close(const Napi::CallbackInfo& info) {
  DoClose();
  return info.Env().Undefined();
}

Napi::Value RaSocket::Ref(const Napi::CallbackInfo& info) {
  poller_.SetRef(true);
  return info.This();
}

Napi::Value RaSocket::Unref(const Napi::CallbackInfo& info) {
  poller_.SetRef(false);
  return info.This();
}

Napi::Value RaSocket::GetIfindex(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ifindex_);
}

void RaSocket::OnReadable(void* owner, int status) {
  auto* self = static_cast<RaSocket*>(owner);
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  Napi::Object js_self = self->Value();
  if (status < 0) {
    Napi::Error err = ErrnoError(env, -status, "poll", self->ifname_);
    CallFromLoop(env, js_self, self->on_error_, {err.Value()});
    return;
  }
  self->Drain(js_self);
}

void RaSocket::Drain(const Napi::Object& js_self) {
  Napi::Env env = Env();
  for (int i = 0; i < kMaxPerWakeup && poller_.IsOpen(); ++i) {
    Napi::HandleScope scope(env);
    sockaddr_in6 from;
    memset(&from, 0, sizeof(from));
    iovec iov{buffer_.data(), buffer_.size()};
    union {
      cmsghdr align;
      char bytes[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + 64];
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
    // Drop anything too short to carry a type, or whose type the filter should have blocked.
    if (n < 4 || ICMP6_FILTER_WILLBLOCK(buffer_[0], &filter_)) continue;

    int hop_limit = -1;
    in6_pktinfo pktinfo;
    bool have_pktinfo = false;
    memset(&pktinfo, 0, sizeof(pktinfo));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        memcpy(&hop_limit, CMSG_DATA(c), sizeof(int));
      } else if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
        memcpy(&pktinfo, CMSG_DATA(c), sizeof(pktinfo));
        have_pktinfo = true;
      }
    }

    Napi::Object meta = Napi::Object::New(env);
    meta.Set("address", Ipv6ToString(from.sin6_addr));
    meta.Set("hopLimit", Napi::Number::New(env, hop_limit));
    meta.Set("ifindex", Napi::Number::New(env, have_pktinfo ? pktinfo.ipi6_ifindex : 0));
    meta.Set("destination", have_pktinfo ? Napi::Value(Napi::String::New(env, Ipv6ToString(pktinfo.ipi6_addr)))
                                         : Napi::Value(env.Null()));
    Napi::Buffer<unsigned char> data =
        Napi::Buffer<unsigned char>::Copy(env, buffer_.data(), static_cast<size_t>(n));
    if (!CallFromLoop(env, js_self, on_message_, {data, meta})) return;
  }
}

}  // namespace dls
