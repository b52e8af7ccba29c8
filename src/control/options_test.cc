#include "control/options.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

const std::vector<OptionSpec> kSpecs = {{"kernel", true}, {"json", false}, {"disk", true, true}};

Result<ParsedOptions> Parse(std::vector<const char*> args) {
  return ParseOptions("ferry test", {const_cast<char* const*>(args.data()), args.size()}, kSpecs);
}

TEST(ParseOptions, SpaceAndEqualsForms) {
  Result<ParsedOptions> o =
      Parse({"--kernel", "a.elf", "--json", "--disk=x", "--disk", "y", "pos"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->Get("kernel"), "a.elf");
  EXPECT_TRUE(o->Has("json"));
  EXPECT_EQ(o->All("disk").size(), 2u);
  EXPECT_EQ(o->positional().at(0), "pos");
}

TEST(ParseOptions, ClearErrors) {
  EXPECT_NE(Parse({"--kernal", "x"}).error().message().find("unknown option --kernal"),
            std::string::npos);
  EXPECT_NE(Parse({"--kernel"}).error().message().find("needs a value"), std::string::npos);
  EXPECT_NE(Parse({"--json=1"}).error().message().find("takes no value"), std::string::npos);
  EXPECT_NE(Parse({"--kernel", "a", "--kernel", "b"}).error().message().find("twice"),
            std::string::npos);
}

}  // namespace
}  // namespace ferry
