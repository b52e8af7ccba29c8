#include "base/json.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(Json, RoundTripsAnObject) {
  Json o = Json::MakeObject();
  o.Set("cmd", "status");
  o.Set("n", int64_t{42});
  o.Set("ok", true);
  o.Set("text", "a \"quoted\"\nline");
  std::string dumped = o.Dump();
  EXPECT_EQ(dumped, R"({"cmd":"status","n":42,"ok":true,"text":"a \"quoted\"\nline"})");
  Result<Json> parsed = Json::Parse(dumped);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->Get("text")->as_string(), "a \"quoted\"\nline");
  EXPECT_EQ(parsed->Get("n")->as_int(), 42);
}

TEST(Json, ParsesNestedValues) {
  Result<Json> parsed = Json::Parse(R"( {"a": [1, 2.5, null, {"b": false}], "u": "\u00e9"} )");
  ASSERT_TRUE(parsed.ok());
  const Json::Array& a = parsed->Get("a")->as_array();
  ASSERT_EQ(a.size(), 4u);
  EXPECT_DOUBLE_EQ(a[1].as_double(), 2.5);
  EXPECT_TRUE(a[2].is_null());
  EXPECT_FALSE(a[3].Get("b")->as_bool());
  EXPECT_EQ(parsed->Get("u")->as_string(), "\xc3\xa9");
}

TEST(Json, RejectsMalformedInput) {
  for (const char* bad : {"", "{", "{\"a\"}", "[1,]", "{\"a\":1,}", "tru", "\"abc", "1 2",
                          "{\"a\":\"\x01\"}", "nan"}) {
    EXPECT_FALSE(Json::Parse(bad).ok()) << bad;
  }
}

TEST(Json, LimitsNestingDepth) {
  std::string deep(1000, '[');
  EXPECT_FALSE(Json::Parse(deep).ok());
}

}  // namespace
}  // namespace ferry
