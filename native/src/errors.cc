#include "errors.h"

#include <net/if.h>
#include <uv.h>

namespace dls {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& detail) {
  // libuv's error codes are the negated errno values on Unix, so uv_err_name gives the symbolic name.
  const int uverr = uv_translate_sys_error(err);
  const char* name = uv_err_name(uverr);
  std::string message = std::string(syscall) + " " + name;
  if (!detail.empty()) message += " " + detail;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, name));
  error.Set("errno", Napi::Number::New(env, uverr));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& detail) {
  throw ErrnoError(env, err, syscall, detail);
}

void ThrowInvalidArg(Napi::Env env, const std::string& message) {
  Napi::Error error = Napi::TypeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_VALUE"));
  throw error;
}

std::string InterfaceNameArg(Napi::Env env, const Napi::Value& value) {
  if (!value.IsString()) ThrowInvalidArg(env, "interface name must be a string");
  std::string name = value.As<Napi::String>().Utf8Value();
  if (name.empty() || name.size() >= IFNAMSIZ) ThrowInvalidArg(env, "interface name must have 1-15 characters");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) ThrowInvalidArg(env, "interface name has a character outside [A-Za-z0-9_.-]");
  }
  return name;
}

}  // namespace dls

namespace dls {

bool CallFromLoop(Napi::Env env, const Napi::Object& recv, const Napi::FunctionReference& fn,
                  const std::initializer_list<napi_value>& args) {
  if (fn.IsEmpty()) return true;
  try {
    fn.MakeCallback(recv, args);
    return true;
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
    return false;
  }
}

}  // namespace dls
