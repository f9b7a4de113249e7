#include "worker/prune/dropmap_options.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"

namespace cohort::worker::prune {
namespace {

// Removes PEP 515 underscores; false if one is not between two digits.
bool StripDigitUnderscores(absl::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '_') {
      out->push_back(text[i]);
      continue;
    }
    const bool ok = i > 0 && i + 1 < text.size() &&
                    absl::ascii_isdigit(static_cast<unsigned char>(text[i - 1])) &&
                    absl::ascii_isdigit(static_cast<unsigned char>(text[i + 1]));
    if (!ok) return false;
  }
  return true;
}

bool IsDecimalLiteral(const std::string& s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_digits = 0;
  while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
    ++i;
    ++int_digits;
  }
  size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
      ++i;
      ++frac_digits;
    }
  }
  if (int_digits + frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
      ++i;
      ++exp_digits;
    }
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

PyValue OptionalStrings(const std::optional<std::vector<std::string>>& v) {
  return v ? PyValue::StringList(*v) : PyValue::Null();
}

}  // namespace

const std::vector<std::string>& StrategyChoices() {
  static const auto* kChoices = new std::vector<std::string>{
      "max", "mean", "geomean", "sum", "lp4", "softmax_t4", "second",
      "top3mean"};
  return *kChoices;
}

const std::vector<std::string>& ProtectStrategyChoices() {
  static const auto* kChoices = new std::vector<std::string>{
      "same", "sum", "max", "mean", "geomean", "lp4", "softmax_t4", "second",
      "top3mean"};
  return *kChoices;
}

std::optional<int64_t> ParsePyInt(absl::string_view text) {
  std::string s;
  if (!StripDigitUnderscores(absl::StripAsciiWhitespace(text), &s)) {
    return std::nullopt;
  }
  size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  for (size_t k = i; k < s.size(); ++k) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(s[k]))) {
      return std::nullopt;
    }
  }
  errno = 0;
  const long long v = std::strtoll(s.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<double> ParsePyFloat(absl::string_view text) {
  std::string s(absl::StripAsciiWhitespace(text));
  std::string lower = absl::AsciiStrToLower(s);
  const bool negative = !lower.empty() && lower[0] == '-';
  const std::string body =
      (!lower.empty() && (lower[0] == '-' || lower[0] == '+')) ? lower.substr(1)
                                                                : lower;
  if (body == "inf" || body == "infinity") {
    return negative ? -HUGE_VAL : HUGE_VAL;
  }
  if (body == "nan") return negative ? -std::nan("") : std::nan("");
  std::string digits;
  if (!StripDigitUnderscores(s, &digits) || !IsDecimalLiteral(digits)) {
    return std::nullopt;
  }
  return std::strtod(digits.c_str(), nullptr);
}

PyValue DropMapArgsValue(const DropMapOptions& o) {
  PyValue args = PyValue::Object();
  args.Set("data", PyValue::String(o.data));
  args.Set("target", PyValue::Int(o.target));
  args.Set("protect_top", PyValue::Int(o.protect_top));
  args.Set("alpha", PyValue::Float(o.alpha));
  args.Set("score_mode", PyValue::String(o.score_mode));
  args.Set("strategy", PyValue::String(o.strategy));
  args.Set("normalize", PyValue::String(o.normalize));
  args.Set("classes", OptionalStrings(o.classes));
  args.Set("class_weights", OptionalStrings(o.class_weights));
  args.Set("protect_strategy", PyValue::String(o.protect_strategy));
  args.Set("protect_class_weights", OptionalStrings(o.protect_class_weights));
  args.Set("class_protect_floor", PyValue::Int(o.class_protect_floor));
  args.Set("v4_floor_data", PyValue::String(o.v4_floor_data));
  args.Set("v4_floor_top", PyValue::Int(o.v4_floor_top));
  args.Set("v4_floor_clamp",
           o.v4_floor_clamp ? PyValue::IntList({o.v4_floor_clamp->first,
                                                o.v4_floor_clamp->second})
                            : PyValue::Null());
  args.Set("v4_floor_map", o.v4_floor_map ? PyValue::String(*o.v4_floor_map)
                                          : PyValue::Null());
  args.Set("breadth_bonus", PyValue::Float(o.breadth_bonus));
  args.Set("protect_class_min", OptionalStrings(o.protect_class_min));
  args.Set("outlier_wnorm_thresh", PyValue::Float(o.outlier_wnorm_thresh));
  args.Set("outlier_mode", PyValue::String(o.outlier_mode));
  args.Set("baseline_drop_map", PyValue::String(o.baseline_drop_map));
  args.Set("output", PyValue::String(o.output));
  args.Set("summary_output", o.summary_output
                                 ? PyValue::String(*o.summary_output)
                                 : PyValue::Null());
  return args;
}

}  // namespace cohort::worker::prune
