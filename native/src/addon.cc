// dls_net: entry point. Exports UdpSocket, RaSocket, TransferSocket and two interface-name helpers.
#include <errno.h>
#include <napi.h>
#include <net/if.h>

#include "errors.h"
#include "ra_socket.h"
#include "transfer_socket.h"
#include "udp_socket.h"

namespace {

// ifIndexToName(index) → string | null
Napi::Value IfIndexToName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) dls::ThrowInvalidArg(env, "usage: ifIndexToName(index)");
  const double index = info[0].As<Napi::Number>().DoubleValue();
  if (!(index >= 1 && index <= 0x7fffffff) || index != static_cast<double>(static_cast<unsigned>(index))) {
    return env.Null();
  }
  char name[IF_NAMESIZE + 1] = {0};
  if (if_indextoname(static_cast<unsigned>(index), name) == nullptr) return env.Null();
  return Napi::String::New(env, name);
}

// ifNameToIndex(name) → number (throws ENODEV for an unknown interface)
Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = dls::InterfaceNameArg(env, info.Length() > 0 ? info[0] : env.Undefined());
  const unsigned index = if_nametoindex(name.c_str());
  if (index == 0) dls::ThrowErrno(env, errno == 0 ? ENODEV : errno, "if_nametoindex", name);
  return Napi::Number::New(env, index);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpSocket", dls::UdpSocket::Init(env));
  exports.Set("RaSocket", dls::RaSocket::Init(env));
  exports.Set("TransferSocket", dls::TransferSocket::Init(env));
  exports.Set("ifIndexToName", Napi::Function::New<IfIndexToName>(env, "ifIndexToName"));
  exports.Set("ifNameToIndex", Napi::Function::New<IfNameToIndex>(env, "ifNameToIndex"));
  return exports;
}

}  // namespace

NODE_API_MODULE(dls_net, Init)
