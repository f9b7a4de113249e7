// File: status_matchers.h
//
// gtest helpers for absl::Status / StatusOr (abseil 20220623 ships none):
//   EXPECT_OK(DoThing());
//   ASSERT_OK_AND_ASSIGN(auto value, MakeValue());
//   EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound, HasSubstr("x")));
#ifndef COHORT_COMMON_TESTING_STATUS_MATCHERS_H_
#define COHORT_COMMON_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER_P2(StatusIs, code, message_matcher, "") {
  const absl::Status& status = ::cohort::testing::GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code &&
         ::testing::ExplainMatchResult(message_matcher,
                                       std::string(status.message()),
                                       result_listener);
}

MATCHER(IsOk, "") {
  const absl::Status& status = ::cohort::testing::GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.ok();
}

}  // namespace cohort::testing

#define EXPECT_OK(expr) EXPECT_THAT((expr), ::cohort::testing::IsOk())
#define ASSERT_OK(expr) ASSERT_THAT((expr), ::cohort::testing::IsOk())

#define COHORT_MATCHERS_CONCAT_INNER_(x, y) x##y
#define COHORT_MATCHERS_CONCAT_(x, y) COHORT_MATCHERS_CONCAT_INNER_(x, y)
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                   \
  ASSERT_OK_AND_ASSIGN_IMPL_(                                              \
      COHORT_MATCHERS_CONCAT_(cohort_assert_statusor_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  ASSERT_TRUE(statusor.ok()) << statusor.status().ToString(); \
  lhs = std::move(statusor).value()

#endif  // COHORT_COMMON_TESTING_STATUS_MATCHERS_H_
