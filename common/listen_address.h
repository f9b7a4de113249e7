// File: listen_address.h
//
// Whether a listener's host:port reaches only this machine. A plaintext
// listener is safe on loopback and nowhere else: tokens and results cross it
// in the clear. Pure; thread-safe.
#ifndef COHORT_COMMON_LISTEN_ADDRESS_H_
#define COHORT_COMMON_LISTEN_ADDRESS_H_

#include "absl/strings/string_view.h"

namespace cohort {

// True for "127.x.y.z:P", "localhost:P", "[::1]:P" (and the same without a
// port). False for wildcard addresses ("0.0.0.0", "[::]", ""), any other
// address or name, and anything unparsable.
bool IsLoopbackListen(absl::string_view host_port);

}  // namespace cohort

#endif  // COHORT_COMMON_LISTEN_ADDRESS_H_
