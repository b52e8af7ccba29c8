#include "migration/report.h"

#include <cstdio>

namespace ferry::migration {

Json MigrationReport::ToJson() const {
  Json j = Json::MakeObject();
  j.Set("status", status);
  j.Set("mode", mode);
  j.Set("destination", destination);
  j.Set("total_ms", total_ms);
  j.Set("setup_ms", setup_ms);
  j.Set("downtime_ms", downtime_ms);
  j.Set("downtime_clock", downtime_clock);
  j.Set("clock_offset_ms", clock_offset_ms);
  j.Set("transfer_ms", transfer_ms);
  j.Set("bytes_sent", bytes_sent);
  j.Set("pages_normal", pages_normal);
  j.Set("pages_zero", pages_zero);
  Json list = Json::MakeArray();
  for (const RoundReport& r : rounds) {
    Json round = Json::MakeObject();
    round.Set("pages_sent", r.pages_sent);
    round.Set("pages_dirtied", r.pages_dirtied);
    round.Set("duration_ms", r.duration_ms);
    round.Set("mib_per_s", r.mib_per_s);
    round.Set("collect_ms", r.collect_ms);
    list.Push(std::move(round));
  }
  j.Set("rounds", std::move(list));
  j.Set("throttle_pct", throttle_pct);
  j.Set("converged", converged);
  j.Set("reason", reason);
  j.Set("downtime_target_ms", downtime_target_ms);
  j.Set("predicted_downtime_ms", predicted_downtime_ms);
  j.Set("drain_ms", drain_ms);
  Json phases = Json::MakeObject();
  phases.Set("pause_ms", switchover.pause_ms);
  phases.Set("last_pages_ms", switchover.last_pages_ms);
  phases.Set("devices_ms", switchover.devices_ms);
  phases.Set("load_ms", switchover.load_ms);
  phases.Set("handover_ms", switchover.handover_ms);
  phases.Set("start_ms", switchover.start_ms);
  j.Set("switchover", std::move(phases));
  if (!dirty_tracking.empty()) {
    j.Set("dirty_tracking", dirty_tracking);
    j.Set("ring_full_exits", ring_full_exits);
  }
  Json disk_list = Json::MakeArray();
  for (const DiskReport& d : disks) {
    Json disk = Json::MakeObject();
    disk.Set("path", d.path);
    disk.Set("mode", d.mode);
    disk.Set("size_bytes", d.size_bytes);
    disk.Set("chunks_data", d.chunks_data);
    disk.Set("chunks_zero", d.chunks_zero);
    disk.Set("chunks_resumed", d.chunks_resumed);
    disk.Set("dirty_chunks", d.dirty_chunks);
    disk.Set("final_chunks", d.final_chunks);
    disk.Set("bytes_sent", d.bytes_sent);
    disk.Set("bulk_ms", d.bulk_ms);
    disk.Set("resumed", d.resumed);
    disk_list.Push(std::move(disk));
  }
  j.Set("disks", std::move(disk_list));
  return j;
}

namespace {

double NumberOr(const Json& object, const char* key, double fallback = 0) {
  const Json* v = object.Get(key);
  return v && v->is_number() ? v->as_double() : fallback;
}
uint64_t CountOr(const Json& object, const char* key) {
  const Json* v = object.Get(key);
  return v && v->is_int() && v->as_int() > 0 ? static_cast<uint64_t>(v->as_int()) : 0;
}
std::string StringOr(const Json& object, const char* key, std::string fallback) {
  const Json* v = object.Get(key);
  return v && v->is_string() ? v->as_string() : fallback;
}
bool BoolOr(const Json& object, const char* key, bool fallback) {
  const Json* v = object.Get(key);
  return v && v->is_bool() ? v->as_bool() : fallback;
}
const Json::Array* ArrayOf(const Json& object, const char* key) {
  const Json* v = object.Get(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

}  // namespace

MigrationReport MigrationReport::FromJson(const Json& j) {
  MigrationReport r;
  r.status = StringOr(j, "status", r.status);
  r.mode = StringOr(j, "mode", r.mode);
  r.destination = StringOr(j, "destination", "");
  r.total_ms = NumberOr(j, "total_ms");
  r.setup_ms = NumberOr(j, "setup_ms");
  r.downtime_ms = NumberOr(j, "downtime_ms");
  r.downtime_clock = StringOr(j, "downtime_clock", r.downtime_clock);
  r.clock_offset_ms = NumberOr(j, "clock_offset_ms");
  r.transfer_ms = NumberOr(j, "transfer_ms");
  r.bytes_sent = CountOr(j, "bytes_sent");
  r.pages_normal = CountOr(j, "pages_normal");
  r.pages_zero = CountOr(j, "pages_zero");
  if (const Json::Array* rounds = ArrayOf(j, "rounds")) {
    for (const Json& round : *rounds) {
      r.rounds.push_back({CountOr(round, "pages_sent"), CountOr(round, "pages_dirtied"),
                          NumberOr(round, "duration_ms"), NumberOr(round, "mib_per_s"),
                          NumberOr(round, "collect_ms")});
    }
  }
  r.throttle_pct = static_cast<int>(NumberOr(j, "throttle_pct"));
  r.converged = BoolOr(j, "converged", r.converged);
  r.reason = StringOr(j, "reason", "");
  r.downtime_target_ms = NumberOr(j, "downtime_target_ms");
  r.predicted_downtime_ms = NumberOr(j, "predicted_downtime_ms");
  r.drain_ms = NumberOr(j, "drain_ms");
  if (const Json* phases = j.Get("switchover"); phases && phases->is_object()) {
    r.switchover = {NumberOr(*phases, "pause_ms"),    NumberOr(*phases, "last_pages_ms"),
                    NumberOr(*phases, "devices_ms"),  NumberOr(*phases, "load_ms"),
                    NumberOr(*phases, "handover_ms"), NumberOr(*phases, "start_ms")};
  }
  r.dirty_tracking = StringOr(j, "dirty_tracking", "");
  r.ring_full_exits = CountOr(j, "ring_full_exits");
  if (const Json::Array* disks = ArrayOf(j, "disks")) {
    for (const Json& d : *disks) {
      DiskReport disk;
      disk.path = StringOr(d, "path", "");
      disk.mode = StringOr(d, "mode", "");
      disk.size_bytes = CountOr(d, "size_bytes");
      disk.chunks_data = CountOr(d, "chunks_data");
      disk.chunks_zero = CountOr(d, "chunks_zero");
      disk.chunks_resumed = CountOr(d, "chunks_resumed");
      disk.dirty_chunks = CountOr(d, "dirty_chunks");
      disk.final_chunks = CountOr(d, "final_chunks");
      disk.bytes_sent = CountOr(d, "bytes_sent");
      disk.bulk_ms = NumberOr(d, "bulk_ms");
      disk.resumed = BoolOr(d, "resumed", false);
      r.disks.push_back(std::move(disk));
    }
  }
  return r;
}

std::string MigrationReport::ToText() const {
  char buf[640];
  std::snprintf(
      buf, sizeof buf,
      "%s (%s) to %s\n"
      "  total      %9.1f ms\n"
      "  setup      %9.1f ms\n"
      "  downtime   %9.1f ms (%s clocks)\n"
      "  transfer   %9.1f ms\n"
      "  sent       %9.1f MiB (%llu bytes)\n"
      "  pages      %llu normal, %llu zero (elided)\n",
      status == "completed" ? "migrated" : ("migration " + status).c_str(), mode.c_str(),
      destination.c_str(), total_ms, setup_ms, downtime_ms, downtime_clock.c_str(), transfer_ms,
      static_cast<double>(bytes_sent) / (1 << 20), static_cast<unsigned long long>(bytes_sent),
      static_cast<unsigned long long>(pages_normal), static_cast<unsigned long long>(pages_zero));
  std::string text = buf;
  if (!rounds.empty()) {
    std::snprintf(buf, sizeof buf, "  rounds     %zu, %s: %s; throttle %d%%\n", rounds.size(),
                  converged ? "converged" : "did not converge", reason.c_str(), throttle_pct);
    text += buf;
    if (drain_ms > 0) {
      std::snprintf(buf, sizeof buf,
                    "  drain      %9.1f ms before the pause (destination caught up)\n", drain_ms);
      text += buf;
    }
    if (!dirty_tracking.empty()) {
      std::snprintf(buf, sizeof buf, "  tracking   dirty %s, %llu ring-full exits\n",
                    dirty_tracking.c_str(), static_cast<unsigned long long>(ring_full_exits));
      text += buf;
    }
    const SwitchoverPhases& s = switchover;
    std::snprintf(buf, sizeof buf,
                  "  switchover pause %.2f, last pages %.2f, devices %.2f, loaded %.2f, "
                  "go to running %.2f ms\n",
                  s.pause_ms, s.last_pages_ms, s.devices_ms, s.load_ms, s.handover_ms);
    text += buf;
    for (size_t i = 0; i < rounds.size(); ++i) {
      const RoundReport& r = rounds[i];
      // The last round is the one sent with the guest paused.
      std::snprintf(buf, sizeof buf,
                    "    %2zu %s %8llu pages sent %8llu dirtied %8.1f ms %8.1f MiB/s"
                    " (collect %.2f ms)\n",
                    i + 1, i + 1 == rounds.size() ? "(paused)" : "        ",
                    static_cast<unsigned long long>(r.pages_sent),
                    static_cast<unsigned long long>(r.pages_dirtied), r.duration_ms, r.mib_per_s,
                    r.collect_ms);
      text += buf;
    }
  }
  for (const DiskReport& d : disks) {
    if (d.mode == "shared") {
      std::snprintf(buf, sizeof buf, "  disk       %s: shared storage, handed over\n",
                    d.path.c_str());
    } else {
      std::snprintf(buf, sizeof buf,
                    "  disk       %s: copied %.1f MiB in %.1f ms (%llu data, %llu zero, %llu "
                    "already there, %llu resent, %llu while paused)\n",
                    d.path.c_str(), static_cast<double>(d.bytes_sent) / (1 << 20), d.bulk_ms,
                    static_cast<unsigned long long>(d.chunks_data),
                    static_cast<unsigned long long>(d.chunks_zero),
                    static_cast<unsigned long long>(d.chunks_resumed),
                    static_cast<unsigned long long>(d.dirty_chunks),
                    static_cast<unsigned long long>(d.final_chunks));
    }
    text += buf;
  }
  return text;
}

}  // namespace ferry::migration
