// UdpSocket: an AF_INET datagram socket optionally bound to one interface (SO_BINDTODEVICE), with IP_PKTINFO
// so every datagram reports the interface it arrived on and the local address it was addressed to.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "poller.h"

namespace dls {

class UdpSocket : public Napi::ObjectWrap<UdpSocket> {
 public:
  static Napi::Function Init(Napi::Env env);

  /** new UdpSocket({ interface?, address, port }, onMessage(buf, info), onError(err)) — opens and binds. */
  explicit UdpSocket(const Napi::CallbackInfo& info);
  ~UdpSocket() override;

 private:
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Address(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);

  static void OnReadable(void* owner, int status);
  void Drain(const Napi::Object& self);
  void DoClose();

  Poller poller_;
  bool self_ref_ = false;
  std::string ifname_;
  std::vector<unsigned char> buffer_;
  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_error_;
};

}  // namespace dls
