// File: utf8.h
//
// Cutting text to a byte bound without splitting a UTF-8 sequence, for
// texts that go into proto string fields (which must stay valid UTF-8):
//
//   request.set_message(Utf8Prefix(status.message(), 16 << 10));
//
// Pure.
#ifndef COHORT_COMMON_UTF8_H_
#define COHORT_COMMON_UTF8_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace cohort {

// At most `max_bytes` bytes of `text`, cut before a UTF-8 continuation byte.
std::string Utf8Prefix(absl::string_view text, size_t max_bytes);

}  // namespace cohort

#endif  // COHORT_COMMON_UTF8_H_
