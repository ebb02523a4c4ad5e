// Error helpers: every failing syscall becomes a JS Error shaped like Node's own system errors
// ({ code: 'EADDRINUSE', errno: -98, syscall: 'bind', message: 'bind EADDRINUSE 0.0.0.0:67' }).
#pragma once

#include <napi.h>

#include <string>

namespace dls {

/** Builds a Node-style system error for the positive errno `err`. */
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& detail);

/** Throws ErrnoError (as a C++ exception that node-addon-api turns into a JS exception). */
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& detail);

/** Throws a TypeError with code ERR_INVALID_ARG_VALUE. */
[[noreturn]] void ThrowInvalidArg(Napi::Env env, const std::string& message);

/**
 * Reads an interface name argument: a string of 1..IFNAMSIZ-1 characters from [A-Za-z0-9_.-]
 * (the same allow-list the TypeScript wrappers apply).
 */
std::string InterfaceNameArg(Napi::Env env, const Napi::Value& value);

}  // namespace dls

namespace dls {

/**
 * Calls a JS callback from a libuv callback (outside any JS frame) with MakeCallback, so microtasks and
 * nextTicks run afterwards. An exception thrown by the callback is re-raised as an uncaught exception,
 * the same as a throwing listener on a Node dgram socket. Returns false when the callback threw.
 */
bool CallFromLoop(Napi::Env env, const Napi::Object& recv, const Napi::FunctionReference& fn,
                  const std::initializer_list<napi_value>& args);

}  // namespace dls
