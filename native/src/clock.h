// NowNs: CLOCK_MONOTONIC in nanoseconds (a vDSO call, no system call), for the TFTP spin budgets.
#pragma once

#include <time.h>

#include <cstdint>

namespace dls {

inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace dls
