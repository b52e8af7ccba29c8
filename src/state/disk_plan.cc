#include "state/disk_plan.h"

#include <cstring>

#include "state/fields.h"

namespace ferry::state {
namespace {

// Field ids of 'disk-plan'.
constexpr uint16_t kPlanEntries = 1;  // DiskPlanWire[]
constexpr uint16_t kPlanPaths = 2;    // source paths, each ended by a NUL
// Field ids of 'disk-resume'.
constexpr uint16_t kResumeZeroed = 1;  // u8 per disk
constexpr uint16_t kResumeFirst = 16;  // + disk index: u64 bitmap words

constexpr size_t kMaxDisks = 64;
constexpr uint32_t kMinChunk = 4096;
constexpr uint32_t kMaxChunk = 16u << 20;

struct DiskPlanWire {
  uint64_t size_bytes;
  uint32_t chunk_bytes;
  uint8_t mode;
  uint8_t readonly;
  uint16_t reserved;
  uint8_t session[16];
};
static_assert(sizeof(DiskPlanWire) == 32);

Error PlanError(size_t disk, const std::string& what) {
  return Error(ErrorCode::kCorrupt,
               "section 'disk-plan': disk " + std::to_string(disk) + " " + what);
}

Status CheckEntry(size_t i, const DiskPlanWire& w) {
  if (w.mode > static_cast<uint8_t>(DiskMode::kCopy)) return PlanError(i, "has an unknown mode");
  if (w.size_bytes == 0 || w.size_bytes % 512 != 0) return PlanError(i, "has a bad size");
  if (w.mode == static_cast<uint8_t>(DiskMode::kCopy) &&
      (w.chunk_bytes < kMinChunk || w.chunk_bytes > kMaxChunk ||
       (w.chunk_bytes & (w.chunk_bytes - 1)) != 0)) {
    return PlanError(i, "has a bad chunk size");
  }
  if (w.readonly > 1 || w.reserved != 0) return PlanError(i, "has bad flags");
  return OkStatus();
}

}  // namespace

uint64_t ChunkCount(const DiskPlanEntry& disk) {
  if (disk.chunk_bytes == 0) return 0;
  return (disk.size_bytes + disk.chunk_bytes - 1) / disk.chunk_bytes;
}

Status WriteDiskPlan(SectionWriter& writer, const std::vector<DiskPlanEntry>& disks) {
  std::vector<DiskPlanWire> wire;
  std::string paths;
  for (const DiskPlanEntry& d : disks) {
    DiskPlanWire w{};
    w.size_bytes = d.size_bytes;
    w.chunk_bytes = d.chunk_bytes;
    w.mode = static_cast<uint8_t>(d.mode);
    w.readonly = d.readonly ? 1 : 0;
    std::memcpy(w.session, d.session.data(), sizeof w.session);
    wire.push_back(w);
    paths += d.source_path;
    paths.push_back('\0');
  }
  FieldWriter f;
  f.PutVector(kPlanEntries, wire);
  f.PutString(kPlanPaths, paths);
  return writer.Write(SectionType::kDiskPlan, 0, f.bytes());
}

Result<std::vector<DiskPlanEntry>> ReadDiskPlan(const Section& section) {
  ASSIGN_OR_RETURN(FieldReader f, FieldReader::Parse(section.payload, "disk-plan"));
  ASSIGN_OR_RETURN(std::vector<DiskPlanWire> wire,
                   f.GetVector<DiskPlanWire>(kPlanEntries, kMaxDisks));
  ASSIGN_OR_RETURN(std::string paths, f.GetString(kPlanPaths, kMaxDisks * 4096));
  std::vector<DiskPlanEntry> disks;
  size_t at = 0;
  for (size_t i = 0; i < wire.size(); ++i) {
    RETURN_IF_ERROR(CheckEntry(i, wire[i]));
    size_t end = paths.find('\0', at);
    if (end == std::string::npos) return PlanError(i, "has no source path");
    DiskPlanEntry d;
    d.size_bytes = wire[i].size_bytes;
    d.chunk_bytes = wire[i].chunk_bytes;
    d.mode = static_cast<DiskMode>(wire[i].mode);
    d.readonly = wire[i].readonly != 0;
    std::memcpy(d.session.data(), wire[i].session, d.session.size());
    d.source_path = paths.substr(at, end - at);
    at = end + 1;
    disks.push_back(std::move(d));
  }
  return disks;
}

Status WriteDiskResume(SectionWriter& writer, const std::vector<DiskResumeEntry>& disks) {
  FieldWriter f;
  std::vector<uint8_t> zeroed;
  for (const DiskResumeEntry& d : disks) zeroed.push_back(d.target_zeroed ? 1 : 0);
  f.PutVector(kResumeZeroed, zeroed);
  for (size_t i = 0; i < disks.size(); ++i) {
    if (!disks[i].present.empty()) {
      f.PutVector(static_cast<uint16_t>(kResumeFirst + i), disks[i].present);
    }
  }
  return writer.Write(SectionType::kDiskResume, 0, f.bytes());
}

Result<std::vector<DiskResumeEntry>> ReadDiskResume(const Section& section,
                                                    const std::vector<DiskPlanEntry>& plan) {
  ASSIGN_OR_RETURN(FieldReader f, FieldReader::Parse(section.payload, "disk-resume"));
  ASSIGN_OR_RETURN(std::vector<uint8_t> zeroed, f.GetVector<uint8_t>(kResumeZeroed, kMaxDisks));
  if (zeroed.size() != plan.size()) {
    return Error(ErrorCode::kCorrupt, "section 'disk-resume' answers for " +
                                          std::to_string(zeroed.size()) + " disks, not " +
                                          std::to_string(plan.size()));
  }
  std::vector<DiskResumeEntry> out(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    out[i].target_zeroed = zeroed[i] != 0;
    auto id = static_cast<uint16_t>(kResumeFirst + i);
    if (!f.Has(id)) continue;
    uint64_t words = (ChunkCount(plan[i]) + 63) / 64;
    if (plan[i].mode != DiskMode::kCopy) {
      return Error(ErrorCode::kCorrupt,
                   "section 'disk-resume' claims chunks of shared disk " + std::to_string(i));
    }
    ASSIGN_OR_RETURN(out[i].present, f.GetVector<uint64_t>(id, words));
    if (out[i].present.size() != words) {
      return Error(ErrorCode::kCorrupt, "section 'disk-resume': disk " + std::to_string(i) +
                                            " has a bitmap of the wrong size");
    }
  }
  return out;
}

}  // namespace ferry::state
