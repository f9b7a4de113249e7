#include "common/endpoint_url.h"

#include "gtest/gtest.h"

namespace cohort {
namespace {

TEST(EndpointUrlTest, HttpOrHttpsInPrintableAsciiOnly) {
  EXPECT_TRUE(IsEndpointUrl("http://gpu-box:8000"));
  EXPECT_TRUE(IsEndpointUrl("https://api.example.com/v1/"));
  EXPECT_FALSE(IsEndpointUrl("ftp://gpu-box"));
  EXPECT_FALSE(IsEndpointUrl("gpu-box:8000"));
  EXPECT_FALSE(IsEndpointUrl("http://gpu box:8000"));
  EXPECT_FALSE(IsEndpointUrl("http://gpu-box:8000\n"));
  EXPECT_FALSE(IsEndpointUrl("http://gpu-box\x7f"));
  EXPECT_FALSE(IsEndpointUrl("http://g\xc3\xa9pu"));  // not %-encoded
  EXPECT_FALSE(IsEndpointUrl("http://" + std::string(2042, 'a')));
  EXPECT_TRUE(IsEndpointUrl("http://" + std::string(2041, 'a')));
}

TEST(EndpointUrlTest, TrailingSlashesNameTheSameServer) {
  EXPECT_EQ(NormalizeEndpointUrl("http://x:8000//"), "http://x:8000");
  EXPECT_EQ(EndpointTool("http://x:8000/"), "endpoint:http://x:8000");
  EXPECT_EQ(EndpointTool("http://x:8000"), EndpointTool("http://x:8000/"));
}

}  // namespace
}  // namespace cohort
