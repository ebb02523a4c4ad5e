// RaSocket: a raw ICMPv6 socket on one interface for Neighbor Discovery router messages (RFC 4861).
// It passes only the ICMPv6 types it was asked for (ICMP6_FILTER), reports the hop limit of every message so
// JS can apply the RFC 4861 §6.1.1 validity checks, and sends with hop limit 255 (RFC 4861 §6.1.2).
#pragma once

#include <napi.h>
#include <netinet/icmp6.h>

#include <string>
#include <vector>

#include "poller.h"

namespace dls {

class RaSocket : public Napi::ObjectWrap<RaSocket> {
 public:
  static Napi::Function Init(Napi::Env env);

  /** new RaSocket(interface, icmpTypes[], onMessage(buf, info), onError(err)). */
  explicit RaSocket(const Napi::CallbackInfo& info);
  ~RaSocket() override;

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value GetIfindex(const Napi::CallbackInfo& info);

  static void OnReadable(void* owner, int status);
  void Drain(const Napi::Object& self);
  void DoClose();

  Poller poller_;
  bool self_ref_ = false;
  unsigned int ifindex_ = 0;
  std::string ifname_;
  icmp6_filter filter_;
  std::vector<unsigned char> buffer_;
  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_error_;
};

}  // namespace dls
