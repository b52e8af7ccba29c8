#include "migration/report.h"

#include <gtest/gtest.h>

namespace ferry::migration {
namespace {

MigrationReport FullReport() {
  MigrationReport r;
  r.mode = "precopy";
  r.destination = "tcp:10.0.0.2:7001";
  r.total_ms = 813.5;
  r.setup_ms = 2.5;
  r.downtime_ms = 41.25;
  r.downtime_clock = "offset-corrected";
  r.clock_offset_ms = 0.75;
  r.transfer_ms = 11.5;
  r.bytes_sent = 1234567;
  r.pages_normal = 79443;
  r.pages_zero = 197075;
  r.rounds = {{65069, 13972, 743.5, 342.75, 0.5}, {14374, 0, 38.5, 1458.75, 0.25}};
  r.throttle_pct = 20;
  r.converged = false;
  r.reason = "max rounds";
  r.downtime_target_ms = 300;
  r.predicted_downtime_ms = 161.5;
  r.drain_ms = 10.5;
  r.switchover = {0.125, 7.5, 0.25, 2.5, 11.5, 11.25};
  r.dirty_tracking = "ring";
  r.ring_full_exits = 3;
  DiskReport copied;
  copied.path = "/images/a.img";
  copied.mode = "copy";
  copied.size_bytes = 2ull << 30;
  copied.chunks_data = 18080;
  copied.chunks_zero = 16368;
  copied.chunks_resumed = 5;
  copied.dirty_chunks = 1680;
  copied.final_chunks = 320;
  copied.bytes_sent = 1184890880;
  copied.bulk_ms = 1329.75;
  copied.resumed = true;
  DiskReport shared;
  shared.path = "/shared/b.img";
  shared.mode = "shared";
  r.disks = {copied, shared};
  return r;
}

TEST(MigrationReport, EveryFieldSurvivesJsonAndBack) {
  MigrationReport original = FullReport();
  Result<Json> parsed = Json::Parse(original.ToJson().Dump());
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(MigrationReport::FromJson(*parsed).ToJson().Dump(), original.ToJson().Dump());
}

TEST(MigrationReport, FromJsonKeepsDefaultsForWhatIsMissingOrWrong) {
  Result<Json> odd = Json::Parse(
      R"({"ok":true,"total_ms":"fast","rounds":5,"disks":[{"path":7}],"mode":"offline"})");
  ASSERT_TRUE(odd.ok());
  MigrationReport r = MigrationReport::FromJson(*odd);
  EXPECT_EQ(r.mode, "offline");
  EXPECT_EQ(r.total_ms, 0);
  EXPECT_TRUE(r.rounds.empty());
  ASSERT_EQ(r.disks.size(), 1u);
  EXPECT_EQ(r.disks[0].path, "");
  EXPECT_NE(r.ToText().find("migrated (offline) to"), std::string::npos);
}

// What `ferry migrate` prints: the disks, the paused round and where the
// downtime went must all be there.
TEST(MigrationReport, TheHumanFormShowsRoundsPhasesAndDisks) {
  std::string text = FullReport().ToText();
  for (const char* expected :
       {"migrated (precopy) to tcp:10.0.0.2:7001", "downtime        41.2 ms (offset-corrected",
        "did not converge: max rounds; throttle 20%", "drain           10.5 ms",
        "tracking   dirty ring, 3 ring-full exits",
        "switchover pause 0.12, last pages 7.50, devices 0.25, loaded 2.50, go to running 11.50",
        "     2 (paused)    14374 pages sent",
        "disk       /images/a.img: copied 1130.0 MiB in 1329.8 ms (18080 data, 16368 zero, 5 "
        "already there, 1680 resent, 320 while paused)",
        "disk       /shared/b.img: shared storage, handed over"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << "missing: " << expected << "\n" << text;
  }
}

}  // namespace
}  // namespace ferry::migration
