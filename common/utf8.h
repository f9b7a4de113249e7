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
// At most the last `max_bytes` bytes of `text`, starting after any
// continuation bytes (a log's tail).
std::string Utf8Suffix(absl::string_view text, size_t max_bytes);
// `text` with every byte that does not begin a well-formed UTF-8 sequence
// (stray continuation bytes, overlong forms, surrogates, code points past
// U+10FFFF, truncated sequences) replaced by U+FFFD. Tool output is bytes;
// a proto string holding it must be valid, or the message does not parse.
std::string ValidUtf8(absl::string_view text);

}  // namespace cohort

#endif  // COHORT_COMMON_UTF8_H_
