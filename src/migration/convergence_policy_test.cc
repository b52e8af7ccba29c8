#include "migration/convergence_policy.h"

#include <gtest/gtest.h>

namespace ferry::migration {
namespace {

// 1 GiB/s: 1 MiB per ms.
RoundStats Round(int n, uint64_t sent, double ms, uint64_t dirtied) {
  return RoundStats{n, sent, sent * 4096, ms, dirtied};
}

TEST(ConvergencePolicy, SwitchesOverWhenTheTargetIsMet) {
  ConvergencePolicy policy({});
  // Round 1: 256 MiB at 1 GiB/s; 55k pages dirtied (~215 ms, fits 300 ms) and
  // iterating would barely shrink that: switch over.
  Decision d = policy.Next(Round(1, 65536, 256, 55000));
  EXPECT_EQ(d.action, Action::kSwitchover);
  EXPECT_TRUE(d.converged);
  EXPECT_NEAR(d.predicted_downtime_ms, 55000 * 4104 / (65536.0 * 4096 / 256) + 2, 0.5);
  EXPECT_NE(d.reason.find("downtime target"), std::string::npos);
}

TEST(ConvergencePolicy, KeepsGoingWhileRoundsShrinkTheDirtySet) {
  ConvergencePolicy policy({});
  // The target is met after round 1 already, but the dirty set shrinks fast:
  // iterate on until it shrinks by less than a quarter or gets small.
  EXPECT_EQ(policy.Next(Round(1, 65536, 256, 8000)).action, Action::kContinue);
  EXPECT_EQ(policy.Next(Round(2, 8000, 32, 1000)).action, Action::kContinue);
  Decision d = policy.Next(Round(3, 1000, 4, 800));  // shrank by only a fifth
  EXPECT_EQ(d.action, Action::kSwitchover);
  EXPECT_TRUE(d.converged);
  EXPECT_LT(d.predicted_downtime_ms, 6);  // 800 pages at ~1 GiB/s + 2 ms of devices
}

TEST(ConvergencePolicy, KeepsIteratingWhileTheDirtySetShrinks) {
  PolicyConfig config;
  config.downtime_ms = 5;
  ConvergencePolicy policy(config);
  EXPECT_EQ(policy.Next(Round(1, 65536, 256, 20000)).action, Action::kContinue);
  EXPECT_EQ(policy.Next(Round(2, 20000, 80, 6000)).action, Action::kContinue);
  Decision d = policy.Next(Round(3, 6000, 24, 1000));  // 4 ms + 2 ms device state > 5
  EXPECT_EQ(d.action, Action::kContinue);
  d = policy.Next(Round(4, 1000, 4, 40));
  EXPECT_EQ(d.action, Action::kSwitchover);
  EXPECT_TRUE(d.converged);
}

TEST(ConvergencePolicy, SmallFinalSetSwitchesOverEvenOnASlowLink) {
  PolicyConfig config;
  config.downtime_ms = 0.001;
  ConvergencePolicy policy(config);
  Decision d = policy.Next(Round(1, 1000, 1000, 10));
  EXPECT_EQ(d.action, Action::kSwitchover);
  EXPECT_NE(d.reason.find("small final dirty set"), std::string::npos);
}

TEST(ConvergencePolicy, NonConvergenceFollowsOnStall) {
  for (OnStall on_stall : {OnStall::kStopAndCopy, OnStall::kAbort, OnStall::kThrottle}) {
    PolicyConfig config;
    config.downtime_ms = 1;
    config.on_stall = on_stall;
    ConvergencePolicy policy(config);
    EXPECT_EQ(policy.Next(Round(1, 65536, 256, 30000)).action, Action::kContinue);
    Decision d = policy.Next(Round(2, 30000, 120, 31000));  // more dirtied than sent
    EXPECT_NE(d.reason.find("not converging"), std::string::npos);
    switch (on_stall) {
      case OnStall::kStopAndCopy:
        EXPECT_EQ(d.action, Action::kSwitchover);
        break;
      case OnStall::kAbort:
        EXPECT_EQ(d.action, Action::kAbort);
        break;
      case OnStall::kThrottle:
        EXPECT_EQ(d.action, Action::kThrottle);
        EXPECT_EQ(d.throttle_pct, 20);
        break;
    }
    EXPECT_FALSE(d.converged);
  }
}

TEST(ConvergencePolicy, ThrottleStepsUpToNinetyNineThenStopsAtMaxRounds) {
  PolicyConfig config;
  config.downtime_ms = 1;
  config.on_stall = OnStall::kThrottle;
  config.max_rounds = 12;
  ConvergencePolicy policy(config);
  policy.Next(Round(1, 65536, 256, 30000));
  std::vector<int> steps;
  Decision d;
  for (int r = 2; r <= 12; ++r) {
    d = policy.Next(Round(r, 30000, 120, 30000));
    if (d.action == Action::kThrottle) steps.push_back(d.throttle_pct);
  }
  EXPECT_EQ(steps, (std::vector<int>{20, 30, 40, 50, 60, 70, 80, 90, 99, 99}));
  EXPECT_EQ(d.action, Action::kSwitchover);
  EXPECT_NE(d.reason.find("max rounds"), std::string::npos);
}

TEST(ConvergencePolicy, MaxRoundsWithStopAndCopy) {
  PolicyConfig config;
  config.downtime_ms = 1;
  config.max_rounds = 3;
  ConvergencePolicy policy(config);
  policy.Next(Round(1, 65536, 256, 30000));
  policy.Next(Round(2, 30000, 120, 20000));
  Decision d = policy.Next(Round(3, 20000, 80, 15000));
  EXPECT_EQ(d.action, Action::kSwitchover);
  EXPECT_FALSE(d.converged);
  EXPECT_NE(d.reason.find("max rounds reached (3)"), std::string::npos);
}

TEST(ParseOnStall, KnowsTheThreeNames) {
  OnStall s;
  EXPECT_TRUE(ParseOnStall("throttle", &s));
  EXPECT_EQ(s, OnStall::kThrottle);
  EXPECT_FALSE(ParseOnStall("panic", &s));
}

}  // namespace
}  // namespace ferry::migration
