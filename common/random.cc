#include "common/random.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace cohort {

std::string SecureRandomHex(size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  if (RAND_bytes(buffer.data(), static_cast<int>(buffer.size())) != 1) {
    std::fprintf(stderr, "cohort: RAND_bytes failed\n");
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(bytes * 2, '0');
  for (size_t i = 0; i < bytes; ++i) {
    hex[2 * i] = kHex[buffer[i] >> 4];
    hex[2 * i + 1] = kHex[buffer[i] & 0xf];
  }
  return hex;
}

}  // namespace cohort
