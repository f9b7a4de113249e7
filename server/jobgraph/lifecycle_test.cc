// Every (state, event) pair of the step lifecycle, with no SQLite: what the
// table allows, what it refuses, and the guards of failures and expiries.
#include "server/jobgraph/lifecycle.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cohort::server {
namespace {

using S = StepState;
using E = StepEvent;
using ::cohort::testing::StatusIs;
using ::testing::HasSubstr;

constexpr S kStates[] = {S::kWaiting,   S::kReady,   S::kLeased,  S::kSucceeded,
                         S::kFailed,    S::kBlocked, S::kSkipped, S::kCancelled};
constexpr E kEvents[] = {E::kInputsDone,   E::kInputFailed, E::kGateFailed,
                         E::kLeased,       E::kCompleted,   E::kFailed,
                         E::kLeaseExpired, E::kUndelivered, E::kInputUnavailable,
                         E::kInputLost,    E::kCancelled,   E::kRearmed,
                         E::kRerun};

// Facts under which a failure is retried and an expiry re-offered.
constexpr RetryFacts kRetry{14 /* UNAVAILABLE */, 1, 3};

// The whole lifecycle, written out independently of lifecycle.cc: under
// kRetry, every allowed move. Anything not listed must be refused.
const std::map<std::pair<S, E>, S>& Allowed() {
  static const auto* allowed = new std::map<std::pair<S, E>, S>{
      {{S::kWaiting, E::kInputsDone}, S::kReady},
      {{S::kWaiting, E::kInputFailed}, S::kBlocked},
      {{S::kWaiting, E::kGateFailed}, S::kSkipped},
      {{S::kWaiting, E::kCancelled}, S::kCancelled},
      {{S::kReady, E::kLeased}, S::kLeased},
      {{S::kReady, E::kGateFailed}, S::kSkipped},
      {{S::kReady, E::kCancelled}, S::kCancelled},
      {{S::kLeased, E::kCompleted}, S::kSucceeded},
      {{S::kLeased, E::kFailed}, S::kReady},
      {{S::kLeased, E::kLeaseExpired}, S::kReady},
      {{S::kLeased, E::kUndelivered}, S::kReady},
      {{S::kLeased, E::kInputUnavailable}, S::kReady},
      {{S::kLeased, E::kInputLost}, S::kWaiting},
      {{S::kLeased, E::kCancelled}, S::kCancelled},
      {{S::kSucceeded, E::kRerun}, S::kWaiting},
      {{S::kFailed, E::kRearmed}, S::kWaiting},
      {{S::kBlocked, E::kRearmed}, S::kWaiting},
      {{S::kSkipped, E::kRearmed}, S::kWaiting},
      {{S::kCancelled, E::kRearmed}, S::kWaiting},
  };
  return *allowed;
}

TEST(LifecycleTest, EveryStateAndEventAsTheTableSays) {
  int allowed = 0;
  for (S from : kStates) {
    for (E event : kEvents) {
      absl::StatusOr<S> to = Next(from, event, kRetry);
      auto expected = Allowed().find({from, event});
      SCOPED_TRACE(std::string(StepStateName(from)) + " + " +
                   std::string(StepEventName(event)));
      if (expected == Allowed().end()) {
        EXPECT_THAT(to, StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr(std::string(StepStateName(from)))));
      } else {
        ++allowed;
        ASSERT_OK(to.status());
        EXPECT_EQ(*to, expected->second);
      }
    }
  }
  EXPECT_EQ(allowed, static_cast<int>(Allowed().size()));
}

TEST(LifecycleTest, AFailureIsRetriedOnlyWhenTransientWithAttemptsLeft) {
  // UNAVAILABLE with attempts left: ready again.
  EXPECT_EQ(Next(S::kLeased, E::kFailed, {14, 2, 3}).value(), S::kReady);
  // The last attempt: failed, also for a transient code.
  EXPECT_EQ(Next(S::kLeased, E::kFailed, {14, 3, 3}).value(), S::kFailed);
  // One more than max_attempts is never granted.
  EXPECT_EQ(Next(S::kLeased, E::kFailed, {14, 4, 3}).value(), S::kFailed);
  // A bad input is not retried however many attempts are left.
  EXPECT_EQ(Next(S::kLeased, E::kFailed, {3 /* INVALID_ARGUMENT */, 1, 3}).value(),
            S::kFailed);
  EXPECT_EQ(Next(S::kLeased, E::kFailed, {0, 1, 3}).value(), S::kFailed);
}

TEST(LifecycleTest, AnExpiredLeaseIsOfferedAgainWhileAttemptsAreLeft) {
  // The code does not matter: the worker died, not the step.
  EXPECT_EQ(Next(S::kLeased, E::kLeaseExpired, {0, 2, 3}).value(), S::kReady);
  EXPECT_EQ(Next(S::kLeased, E::kLeaseExpired, {0, 3, 3}).value(), S::kFailed);
  // Undelivered leases and unavailable inputs spend no attempt.
  EXPECT_EQ(Next(S::kLeased, E::kUndelivered, {0, 3, 3}).value(), S::kReady);
  EXPECT_EQ(Next(S::kLeased, E::kInputUnavailable, {0, 3, 3}).value(), S::kReady);
}

TEST(LifecycleTest, RetryableCodesAreTheTransientOnes) {
  for (absl::StatusCode code :
       {absl::StatusCode::kUnavailable, absl::StatusCode::kAborted,
        absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kResourceExhausted,
        absl::StatusCode::kInternal, absl::StatusCode::kUnknown}) {
    EXPECT_TRUE(IsRetryable(static_cast<int>(code))) << absl::StatusCodeToString(code);
  }
  for (absl::StatusCode code :
       {absl::StatusCode::kOk, absl::StatusCode::kInvalidArgument,
        absl::StatusCode::kNotFound, absl::StatusCode::kFailedPrecondition,
        absl::StatusCode::kPermissionDenied, absl::StatusCode::kDataLoss,
        absl::StatusCode::kUnimplemented, absl::StatusCode::kCancelled}) {
    EXPECT_FALSE(IsRetryable(static_cast<int>(code))) << absl::StatusCodeToString(code);
  }
}

TEST(LifecycleTest, FailedLikeAndRearmableStates) {
  std::vector<S> failed_like, rearmable;
  for (S s : kStates) {
    if (IsFailedLike(s)) failed_like.push_back(s);
    if (IsRearmable(s)) rearmable.push_back(s);
  }
  EXPECT_EQ(failed_like, (std::vector<S>{S::kFailed, S::kBlocked, S::kCancelled}));
  EXPECT_EQ(rearmable,
            (std::vector<S>{S::kFailed, S::kBlocked, S::kSkipped, S::kCancelled}));
}

TEST(LifecycleTest, ParentsDecideAWaitingStep) {
  EXPECT_EQ(EventFromParents({}), E::kInputsDone);
  EXPECT_EQ(EventFromParents({S::kSucceeded, S::kSucceeded}), E::kInputsDone);
  EXPECT_EQ(EventFromParents({S::kSucceeded, S::kLeased}), std::nullopt);
  // One failed-like parent blocks, whatever the others are doing.
  EXPECT_EQ(EventFromParents({S::kLeased, S::kCancelled}), E::kInputFailed);
  EXPECT_EQ(EventFromParents({S::kBlocked}), E::kInputFailed);
  EXPECT_EQ(EventFromParents({S::kSucceeded, S::kFailed}), E::kInputFailed);
  // A skipped parent neither blocks nor completes: its children are skipped
  // with it (kGateFailed) by the store.
  EXPECT_EQ(EventFromParents({S::kSkipped}), std::nullopt);
}

// The table in lifecycle.h's file comment is the one the code uses.
TEST(LifecycleTest, TheHeadersTableIsTheCodesTable) {
  std::ifstream in(cohort::testing::SourceDir() + "/server/jobgraph/lifecycle.h");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  std::string documented;
  bool inside = false;
  for (absl::string_view line : absl::StrSplit(text.str(), '\n')) {
    if (absl::StrContains(line, "The table (lifecycle_test checks")) {
      inside = true;
      continue;
    }
    if (!inside) continue;
    absl::string_view body = absl::StripPrefix(line, "//");
    if (absl::StripAsciiWhitespace(body).empty()) {
      if (!documented.empty()) break;
      continue;
    }
    documented += std::string(absl::StripPrefix(body, "   ")) + "\n";
  }
  EXPECT_EQ(documented, TransitionTable());
}

}  // namespace
}  // namespace cohort::server
