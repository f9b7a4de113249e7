// File: random.h
//
// Secret-grade random bytes (OpenSSL's RAND_bytes), for bearer tokens and
// identifiers that must not be guessable.
#ifndef COHORT_COMMON_RANDOM_H_
#define COHORT_COMMON_RANDOM_H_

#include <string>

namespace cohort {

// `bytes` random bytes as lowercase hex. Crashes if the system's random
// source fails: nothing secure can be done without it.
std::string SecureRandomHex(size_t bytes);

}  // namespace cohort

#endif  // COHORT_COMMON_RANDOM_H_
