#include "worker/prune/pyjson_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cohort::worker::prune {
namespace {

constexpr size_t kChunkSize = size_t{4} << 20;

bool IsDigit(int c) { return c >= '0' && c <= '9'; }
bool IsSpace(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

struct StructuralTable {
  bool is[256] = {};
  constexpr StructuralTable() {
    is[static_cast<unsigned char>('"')] = true;
    is[static_cast<unsigned char>('[')] = true;
    is[static_cast<unsigned char>(']')] = true;
    is[static_cast<unsigned char>('{')] = true;
    is[static_cast<unsigned char>('}')] = true;
  }
};
constexpr StructuralTable kStructural;

// First byte in [p, e) that is one of " [ ] { }, or e.
const char* FindStructural(const char* p, const char* e) {
#if defined(__SSE2__)
  // 16 bytes per step: OR-ing 0x20 folds '[' onto '{' and ']' onto '}'.
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i open = _mm_set1_epi8('{');
  const __m128i close = _mm_set1_epi8('}');
  const __m128i fold = _mm_set1_epi8(0x20);
  while (e - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i folded = _mm_or_si128(v, fold);
    const __m128i hit = _mm_or_si128(
        _mm_cmpeq_epi8(v, quote),
        _mm_or_si128(_mm_cmpeq_epi8(folded, open),
                     _mm_cmpeq_epi8(folded, close)));
    const int mask = _mm_movemask_epi8(hit);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p < e && !kStructural.is[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

void AppendWtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

double PyJsonNumber::ToDouble() const {
  if (text == "NaN") return std::nan("");
  if (text == "Infinity") return HUGE_VAL;
  if (text == "-Infinity") return -HUGE_VAL;
  // strtod rounds correctly and saturates to +-inf / 0 like Python's float().
  return std::strtod(text.c_str(), nullptr);
}

absl::StatusOr<std::unique_ptr<PyJsonReader>> PyJsonReader::OpenFile(
    const std::string& path, const std::string& display_name) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string what = absl::StrCat(display_name, ": cannot open: ",
                                    std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(what)
                         : absl::FailedPreconditionError(what);
  }
  std::unique_ptr<PyJsonReader> reader(new PyJsonReader());
  reader->name_ = display_name;
  reader->fd_ = fd;
  reader->buf_.resize(kChunkSize);
  return reader;
}

std::unique_ptr<PyJsonReader> PyJsonReader::FromString(
    std::string text, std::string display_name) {
  std::unique_ptr<PyJsonReader> reader(new PyJsonReader());
  reader->name_ = std::move(display_name);
  reader->buf_.assign(text.begin(), text.end());
  reader->end_ = reader->buf_.size();
  reader->eof_ = true;
  return reader;
}

PyJsonReader::~PyJsonReader() {
  if (fd_ >= 0) ::close(fd_);
}

void PyJsonReader::Refill() {
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    base_offset_ += pos_;
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
  while (true) {
    const ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_error_ = std::strerror(errno);
    eof_ = true;
    return;
  }
}

bool PyJsonReader::Ensure(size_t n) {
  while (end_ - pos_ < n && !eof_) Refill();
  return end_ - pos_ >= n;
}

int PyJsonReader::CharAt(size_t k) {
  if (!Ensure(k + 1)) return -1;
  return static_cast<unsigned char>(buf_[pos_ + k]);
}

bool PyJsonReader::MatchLiteral(absl::string_view literal) {
  if (!Ensure(literal.size())) return false;
  return std::memcmp(buf_.data() + pos_, literal.data(), literal.size()) == 0;
}

absl::Status PyJsonReader::Error(absl::string_view what) const {
  std::string message =
      absl::StrCat(name_, ": byte ", base_offset_ + pos_, ": ", what);
  if (!io_error_.empty()) {
    return absl::InternalError(absl::StrCat(message, " (read error: ",
                                            io_error_, ")"));
  }
  return absl::InvalidArgumentError(message);
}

absl::StatusOr<int> PyJsonReader::Peek() {
  while (true) {
    if (pos_ == end_ && !Ensure(1)) return -1;
    const int c = static_cast<unsigned char>(buf_[pos_]);
    if (!IsSpace(c)) return c;
    ++pos_;
  }
}

absl::Status PyJsonReader::BeginObject() {
  COHORT_ASSIGN_OR_RETURN(int c, Peek());
  if (c != '{') return Error("expecting '{'");
  ++pos_;
  return absl::OkStatus();
}

absl::Status PyJsonReader::BeginArray() {
  COHORT_ASSIGN_OR_RETURN(int c, Peek());
  if (c != '[') return Error("expecting '['");
  ++pos_;
  return absl::OkStatus();
}

absl::StatusOr<bool> PyJsonReader::NextMember(bool* first, std::string* key) {
  COHORT_ASSIGN_OR_RETURN(int c, Peek());
  if (c == '}') {  // "{}" or the end after a value; "{...,}" fails below
    ++pos_;
    return false;
  }
  if (!*first) {
    if (c != ',') return Error("expecting ',' delimiter");
    ++pos_;
    COHORT_ASSIGN_OR_RETURN(c, Peek());
  }
  *first = false;
  if (c != '"') return Error("expecting property name enclosed in double quotes");
  COHORT_ASSIGN_OR_RETURN(*key, ReadString());
  COHORT_ASSIGN_OR_RETURN(c, Peek());
  if (c != ':') return Error("expecting ':' delimiter");
  ++pos_;
  return true;
}

absl::StatusOr<bool> PyJsonReader::NextElement(bool* first) {
  COHORT_ASSIGN_OR_RETURN(int c, Peek());
  if (c == ']') {
    ++pos_;
    return false;
  }
  if (!*first) {
    if (c != ',') return Error("expecting ',' delimiter");
    ++pos_;
    COHORT_ASSIGN_OR_RETURN(c, Peek());
    if (c == ']') return Error("expecting value");
  }
  *first = false;
  return true;
}

absl::StatusOr<uint32_t> PyJsonReader::ReadHex4() {
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    const int c = CharAt(k);
    int d = IsDigit(c) ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (d < 0) return Error("invalid \\uXXXX escape");
    v = v * 16 + static_cast<uint32_t>(d);
  }
  pos_ += 4;
  return v;
}

absl::StatusOr<std::string> PyJsonReader::ReadString() {
  COHORT_ASSIGN_OR_RETURN(int c, Peek());
  if (c != '"') return Error("expecting a string");
  ++pos_;
  std::string out;
  while (true) {
    c = CharAt(0);
    if (c < 0) return Error("unterminated string");
    ++pos_;
    if (c == '"') return out;
    if (c < 0x20) return Error("invalid control character in string");
    if (c != '\\') {
      out.push_back(static_cast<char>(c));
      continue;
    }
    c = CharAt(0);
    ++pos_;
    switch (c) {
      case '"': out.push_back('"'); continue;
      case '\\': out.push_back('\\'); continue;
      case '/': out.push_back('/'); continue;
      case 'b': out.push_back('\b'); continue;
      case 'f': out.push_back('\f'); continue;
      case 'n': out.push_back('\n'); continue;
      case 'r': out.push_back('\r'); continue;
      case 't': out.push_back('\t'); continue;
      case 'u': break;
      default: return Error("invalid \\escape");
    }
    COHORT_ASSIGN_OR_RETURN(uint32_t cp, ReadHex4());
    // A high surrogate followed by an escaped low one is one code point, as
    // in Python; any other surrogate stays a lone one.
    if (cp >= 0xD800 && cp <= 0xDBFF && CharAt(0) == '\\' && CharAt(1) == 'u') {
      const size_t save = pos_;
      pos_ += 2;
      COHORT_ASSIGN_OR_RETURN(uint32_t low, ReadHex4());
      if (low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      } else {
        pos_ = save;
      }
    }
    AppendWtf8(cp, &out);
  }
}

absl::StatusOr<PyJsonNumber> PyJsonReader::ReadNumber() {
  COHORT_RETURN_IF_ERROR(Peek().status());  // skips white space
  for (absl::string_view lit : {"NaN", "Infinity", "-Infinity"}) {
    if (MatchLiteral(lit)) {
      pos_ += lit.size();
      return PyJsonNumber{std::string(lit), false};
    }
  }
  size_t k = 0;
  if (CharAt(k) == '-') ++k;
  if (CharAt(k) == '0') {
    ++k;
  } else if (IsDigit(CharAt(k))) {
    while (IsDigit(CharAt(k))) ++k;
  } else {
    return Error("expecting value");
  }
  bool is_int = true;
  if (CharAt(k) == '.' && IsDigit(CharAt(k + 1))) {
    k += 2;
    while (IsDigit(CharAt(k))) ++k;
    is_int = false;
  }
  if (CharAt(k) == 'e' || CharAt(k) == 'E') {
    size_t j = k + 1;
    if (CharAt(j) == '+' || CharAt(j) == '-') ++j;
    if (IsDigit(CharAt(j))) {
      k = j + 1;
      while (IsDigit(CharAt(k))) ++k;
      is_int = false;
    }
  }
  PyJsonNumber number{std::string(buf_.data() + pos_, k), is_int};
  pos_ += k;
  return number;
}

absl::StatusOr<PyValue> PyJsonReader::ReadValue() {
  COHORT_ASSIGN_OR_RETURN(int c, Peek());
  if (c == '{' || c == '[') return ReadContainer(c == '{');
  if (c == '"') {
    COHORT_ASSIGN_OR_RETURN(std::string s, ReadString());
    return PyValue::String(std::move(s));
  }
  if (MatchLiteral("true")) {
    pos_ += 4;
    return PyValue::Bool(true);
  }
  if (MatchLiteral("false")) {
    pos_ += 5;
    return PyValue::Bool(false);
  }
  if (MatchLiteral("null")) {
    pos_ += 4;
    return PyValue::Null();
  }
  COHORT_ASSIGN_OR_RETURN(PyJsonNumber number, ReadNumber());
  if (number.is_int) return PyValue::IntText(number.text);
  return PyValue::Float(number.ToDouble());
}

absl::StatusOr<PyValue> PyJsonReader::ReadContainer(bool is_object) {
  ++pos_;  // '{' or '['
  PyValue out = is_object ? PyValue::Object() : PyValue::Array();
  bool first = true;
  while (true) {
    if (is_object) {
      std::string key;
      COHORT_ASSIGN_OR_RETURN(bool more, NextMember(&first, &key));
      if (!more) return out;
      COHORT_ASSIGN_OR_RETURN(PyValue value, ReadValue());
      out.Set(key, std::move(value));  // duplicate keys: last value wins
    } else {
      COHORT_ASSIGN_OR_RETURN(bool more, NextElement(&first));
      if (!more) return out;
      COHORT_ASSIGN_OR_RETURN(PyValue value, ReadValue());
      out.Append(std::move(value));
    }
  }
}

absl::Status PyJsonReader::SkipStringBody() {
  while (true) {
    if (pos_ == end_ && !Ensure(1)) return Error("unterminated string");
    const char* base = buf_.data();
    const char* p = base + pos_;
    const char* e = base + end_;
    while (p < e && *p != '"' && *p != '\\') ++p;
    pos_ = static_cast<size_t>(p - base);
    if (p == e) continue;
    if (*p == '"') {
      ++pos_;
      return absl::OkStatus();
    }
    if (!Ensure(2)) return Error("unterminated string");
    pos_ += 2;  // backslash and the escaped byte
  }
}

absl::Status PyJsonReader::SkipContainer() {
  stack_.clear();
  while (true) {
    if (pos_ == end_ && !Ensure(1)) {
      return Error("unexpected end of input inside an array or object");
    }
    // Hot loop: the bulk of a contribution file is number arrays, which
    // contain no structural byte at all.
    const char* base = buf_.data();
    const char* p = FindStructural(base + pos_, base + end_);
    const char* e = base + end_;
    pos_ = static_cast<size_t>(p - base);
    if (p == e) continue;
    const char c = *p;
    ++pos_;
    if (c == '"') {
      COHORT_RETURN_IF_ERROR(SkipStringBody());
    } else if (c == '[' || c == '{') {
      stack_.push_back(c);
    } else {
      const char open = c == ']' ? '[' : '{';
      if (stack_.empty() || stack_.back() != open) {
        --pos_;
        return Error("mismatched bracket");
      }
      stack_.pop_back();
      if (stack_.empty()) return absl::OkStatus();
    }
  }
}

absl::Status PyJsonReader::SkipScalar() {
  for (absl::string_view lit : {"true", "false", "null"}) {
    if (MatchLiteral(lit)) {
      pos_ += lit.size();
      return absl::OkStatus();
    }
  }
  return ReadNumber().status();
}

absl::Status PyJsonReader::SkipValue() {
  COHORT_ASSIGN_OR_RETURN(int c, Peek());
  if (c == '"') {
    ++pos_;
    return SkipStringBody();
  }
  if (c == '[' || c == '{') return SkipContainer();
  return SkipScalar();
}

absl::Status PyJsonReader::ExpectEnd() {
  COHORT_ASSIGN_OR_RETURN(int c, Peek());
  if (c != -1) return Error("extra data after the JSON value");
  if (!io_error_.empty()) return Error("read failed");
  return absl::OkStatus();
}

}  // namespace cohort::worker::prune
