#include "common/listen_address.h"

#include "gtest/gtest.h"

namespace cohort {
namespace {

TEST(ListenAddressTest, LoopbackOnly) {
  for (const char* yes : {"127.0.0.1:7400", "127.0.0.1:0", "127.1.2.3:80", "localhost:7400",
                          "LOCALHOST:1", "[::1]:7400", "127.0.0.1", "::1"}) {
    EXPECT_TRUE(IsLoopbackListen(yes)) << yes;
  }
  for (const char* no : {"0.0.0.0:7400", "[::]:7400", ":7400", "", "10.0.0.5:7400",
                         "192.168.1.2:1", "cohortd.example.internal:7400", "[::ffff:1]:1",
                         "128.0.0.1:7400", "127.0.0.1.evil.example:1", "[::1"}) {
    EXPECT_FALSE(IsLoopbackListen(no)) << no;
  }
}

}  // namespace
}  // namespace cohort
