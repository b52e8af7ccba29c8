#include "image/lvm.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "base/endian.h"

namespace ferry::image {
namespace {

constexpr uint64_t kSector = 512;
constexpr int kLabelScanSectors = 4;
constexpr uint32_t kChecksumSeed = 0xf597a6cf;
constexpr size_t kPvHeaderUuid = 32;
constexpr size_t kMdaHeaderSize = 512;
constexpr const char kMdaMagic[] = " LVM2 x[5A%r0N*>";
constexpr uint64_t kMaxMetadataText = 16 << 20;
constexpr int kMaxDepth = 32;
constexpr size_t kMaxNodes = 200000;
constexpr uint32_t kRawLocnIgnored = 1;

Error Corrupt(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "LVM physical volume: " + what);
}

// ---- the metadata text ----------------------------------------------------

class ConfigParser {
 public:
  explicit ConfigParser(std::string_view text) : text_(text) {}

  Result<LvmConfigNode> ParseDocument() {
    LvmConfigNode root;
    RETURN_IF_ERROR(ParseEntries(root, 0, /*closing=*/false));
    return root;
  }

 private:
  Error Bad(const std::string& what) const {
    size_t line = 1 + size_t(std::count(text_.begin(), text_.begin() + pos_, '\n'));
    return Corrupt("metadata line " + std::to_string(line) + ": " + what);
  }

  void SkipSpace() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0') {
        ++pos_;
      } else {
        return;
      }
    }
  }

  static bool IsWordChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '+' || c == '-';
  }

  std::string_view Word() {
    size_t start = pos_;
    while (pos_ < text_.size() && IsWordChar(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  Status Count() {
    if (++nodes_ > kMaxNodes) return Bad("more than " + std::to_string(kMaxNodes) + " entries");
    return OkStatus();
  }

  Status ParseEntries(LvmConfigNode& section, int depth, bool closing) {
    if (depth > kMaxDepth) return Bad("sections nested deeper than " + std::to_string(kMaxDepth));
    for (;;) {
      SkipSpace();
      if (pos_ == text_.size()) {
        return closing ? Bad("a section is not closed") : OkStatus();
      }
      if (text_[pos_] == '}') {
        if (!closing) return Bad("'}' without a section");
        ++pos_;
        return OkStatus();
      }
      std::string_view key = Word();
      if (key.empty()) return Bad(std::string("unexpected '") + text_[pos_] + "'");
      RETURN_IF_ERROR(Count());
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == '{') {
        ++pos_;
        LvmConfigNode child;
        child.key = std::string(key);
        RETURN_IF_ERROR(ParseEntries(child, depth + 1, true));
        section.children.push_back(std::move(child));
      } else if (pos_ < text_.size() && text_[pos_] == '=') {
        ++pos_;
        ASSIGN_OR_RETURN(LvmConfigNode value, ParseValue(depth + 1, true));
        value.key = std::string(key);
        section.children.push_back(std::move(value));
      } else {
        return Bad("expected '=' or '{' after '" + std::string(key) + "'");
      }
    }
  }

  Result<LvmConfigNode> ParseString() {
    LvmConfigNode node;
    node.kind = LvmConfigNode::Kind::kString;
    ++pos_;  // the opening quote
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      node.text += text_[pos_++];
    }
    if (pos_ == text_.size()) return Bad("a string is not closed");
    ++pos_;
    return node;
  }

  Result<LvmConfigNode> ParseList(int depth) {
    LvmConfigNode list;
    list.kind = LvmConfigNode::Kind::kList;
    ++pos_;  // '['
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      return list;
    }
    for (;;) {
      RETURN_IF_ERROR(Count());
      ASSIGN_OR_RETURN(LvmConfigNode item, ParseValue(depth + 1, false));
      list.children.push_back(std::move(item));
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        return list;
      }
      return Bad("expected ',' or ']' in a list");
    }
  }

  Result<LvmConfigNode> ParseValue(int depth, bool lists_allowed) {
    if (depth > kMaxDepth) return Bad("values nested deeper than " + std::to_string(kMaxDepth));
    SkipSpace();
    if (pos_ == text_.size()) return Bad("a value is missing");
    if (text_[pos_] == '"') return ParseString();
    if (text_[pos_] == '[') {
      if (!lists_allowed) return Bad("a list inside a list");
      return ParseList(depth);
    }
    std::string_view word = Word();
    if (word.empty()) return Bad(std::string("unexpected '") + text_[pos_] + "' in a value");
    LvmConfigNode node;
    node.text = std::string(word);
    node.kind = LvmConfigNode::Kind::kString;
    int64_t value = 0;
    if (ParseInteger(word, value)) {
      node.kind = LvmConfigNode::Kind::kInteger;
      node.integer = value;
    }
    return node;
  }

  static bool ParseInteger(std::string_view word, int64_t& out) {
    bool negative = !word.empty() && word[0] == '-';
    if (negative) word.remove_prefix(1);
    if (word.empty() || word.size() > 18) return false;
    int64_t v = 0;
    for (char c : word) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    out = negative ? -v : v;
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t nodes_ = 0;
};

// ---- the binary structures ------------------------------------------------

struct Area {
  uint64_t offset = 0;
  uint64_t size = 0;
};

struct PvHeader {
  std::string uuid;  // 32 characters, no dashes
  uint64_t device_size = 0;
  std::vector<Area> metadata_areas;
};

// Reads a zero-terminated list of (offset, size) pairs within the sector.
Result<std::vector<Area>> ReadAreaList(std::span<const uint8_t> sector, size_t& at) {
  std::vector<Area> areas;
  for (;;) {
    if (at + 16 > sector.size()) return Corrupt("PV header area list runs off its sector");
    Area a{LoadLE64(&sector[at]), LoadLE64(&sector[at + 8])};
    at += 16;
    if (a.offset == 0 && a.size == 0) return areas;
    areas.push_back(a);
  }
}

Result<std::optional<PvHeader>> FindLabel(uint64_t pv_size, const PvReader& read) {
  for (int s = 0; s < kLabelScanSectors; ++s) {
    if ((s + 1) * kSector > pv_size) break;
    uint8_t sector[kSector];
    RETURN_IF_ERROR(read(s * kSector, sector));
    if (std::memcmp(sector, "LABELONE", 8) != 0) continue;
    if (std::memcmp(sector + 24, "LVM2 001", 8) != 0) {
      return Corrupt("label in sector " + std::to_string(s) + " is not of type LVM2 001");
    }
    if (LoadLE64(sector + 8) != uint64_t(s)) {
      return Corrupt("label in sector " + std::to_string(s) + " names another sector");
    }
    if (LvmChecksum(std::span<const uint8_t>(sector + 20, kSector - 20)) != LoadLE32(sector + 16)) {
      return Corrupt("label checksum mismatch in sector " + std::to_string(s));
    }
    size_t at = LoadLE32(sector + 20);
    if (at < 32 || at + kPvHeaderUuid + 8 > kSector)
      return Corrupt("PV header offset out of range");
    PvHeader h;
    h.uuid.assign(reinterpret_cast<const char*>(sector + at), kPvHeaderUuid);
    h.device_size = LoadLE64(sector + at + kPvHeaderUuid);
    at += kPvHeaderUuid + 8;
    ASSIGN_OR_RETURN(std::vector<Area> data, ReadAreaList(sector, at));
    (void)data;  // where the extents lie comes from pe_start in the metadata
    ASSIGN_OR_RETURN(h.metadata_areas, ReadAreaList(sector, at));
    return std::optional<PvHeader>(std::move(h));
  }
  return std::optional<PvHeader>();
}

// The newest metadata text in one metadata area (nullopt: none stored).
Result<std::optional<std::string>> ReadMetadataText(const Area& mda, uint64_t pv_size,
                                                    const PvReader& read) {
  if (mda.size < kMdaHeaderSize || mda.offset > pv_size || mda.size > pv_size - mda.offset) {
    return Corrupt("metadata area lies outside the PV");
  }
  uint8_t h[kMdaHeaderSize];
  RETURN_IF_ERROR(read(mda.offset, h));
  if (std::memcmp(h + 4, kMdaMagic, 16) != 0) return Corrupt("metadata area has no LVM2 magic");
  if (LvmChecksum(std::span<const uint8_t>(h + 4, kMdaHeaderSize - 4)) != LoadLE32(h)) {
    return Corrupt("metadata area header checksum mismatch");
  }
  if (LoadLE32(h + 20) != 1) return Corrupt("metadata area version is not 1");
  if (LoadLE64(h + 24) != mda.offset || LoadLE64(h + 32) != mda.size) {
    return Corrupt("metadata area header disagrees with the PV header");
  }
  const uint64_t offset = LoadLE64(h + 40), size = LoadLE64(h + 48);
  const uint32_t checksum = LoadLE32(h + 56), flags = LoadLE32(h + 60);
  if (offset == 0 || (flags & kRawLocnIgnored)) return std::optional<std::string>();
  const uint64_t ring = mda.size - kMdaHeaderSize;
  if (offset < kMdaHeaderSize || offset >= mda.size || size == 0 || size > ring ||
      size > kMaxMetadataText) {
    return Corrupt("metadata text location out of range");
  }
  // The text is a circular buffer after the header: it may wrap.
  std::string text(size, '\0');
  auto* bytes = reinterpret_cast<uint8_t*>(text.data());
  const uint64_t first = std::min(size, mda.size - offset);
  RETURN_IF_ERROR(read(mda.offset + offset, std::span<uint8_t>(bytes, first)));
  if (first < size) {
    RETURN_IF_ERROR(
        read(mda.offset + kMdaHeaderSize, std::span<uint8_t>(bytes + first, size - first)));
  }
  if (LvmChecksum(std::span<const uint8_t>(bytes, size)) != checksum) {
    return Corrupt("metadata text checksum mismatch");
  }
  return std::optional<std::string>(std::move(text));
}

Result<int64_t> Integer(const LvmConfigNode& section, const char* key, const std::string& where) {
  const LvmConfigNode* n = section.Find(key);
  if (n == nullptr || n->kind != LvmConfigNode::Kind::kInteger || n->integer < 0) {
    return Corrupt(where + ": '" + key + "' missing or not a non-negative integer");
  }
  return n->integer;
}

std::string StringOr(const LvmConfigNode& section, const char* key, const std::string& fallback) {
  const LvmConfigNode* n = section.Find(key);
  return n != nullptr && n->kind == LvmConfigNode::Kind::kString ? n->text : fallback;
}

struct Segment {
  int64_t start_extent = 0, extent_count = 0, first_pe = 0;
  std::string type, pv;
  int64_t stripes = 0;
};

Result<std::vector<Segment>> Segments(const LvmConfigNode& lv, const std::string& where) {
  std::vector<Segment> segments;
  for (const LvmConfigNode& child : lv.children) {
    if (child.kind != LvmConfigNode::Kind::kSection || child.key.rfind("segment", 0) != 0) continue;
    const std::string at = where + " " + child.key;
    Segment s;
    ASSIGN_OR_RETURN(s.start_extent, Integer(child, "start_extent", at));
    ASSIGN_OR_RETURN(s.extent_count, Integer(child, "extent_count", at));
    s.type = StringOr(child, "type", "");
    const LvmConfigNode* count = child.Find("stripe_count");
    s.stripes =
        count != nullptr && count->kind == LvmConfigNode::Kind::kInteger ? count->integer : 0;
    const LvmConfigNode* stripes = child.Find("stripes");
    if (stripes != nullptr && stripes->kind == LvmConfigNode::Kind::kList &&
        stripes->children.size() >= 2 &&
        stripes->children[0].kind == LvmConfigNode::Kind::kString &&
        stripes->children[1].kind == LvmConfigNode::Kind::kInteger &&
        stripes->children[1].integer >= 0) {
      s.pv = stripes->children[0].text;
      s.first_pe = stripes->children[1].integer;
    }
    segments.push_back(s);
  }
  std::sort(segments.begin(), segments.end(),
            [](const Segment& a, const Segment& b) { return a.start_extent < b.start_extent; });
  return segments;
}

// Where `lv` lies on `pv`, when it is one contiguous run there.
Result<LvmLogicalVolume> Place(const LvmConfigNode& lv, const std::string& pv, uint64_t pe_start,
                               uint64_t extent_bytes, uint64_t pv_size, const std::string& vg) {
  LvmLogicalVolume out;
  out.name = lv.key;
  const std::string where = "LV " + vg + "/" + lv.key;
  ASSIGN_OR_RETURN(std::vector<Segment> segments, Segments(lv, where));
  if (segments.empty()) {
    out.why_not = "it has no segments";
    return out;
  }
  uint64_t extents = 0;
  for (const Segment& s : segments) {
    if (s.type != "striped" || s.stripes != 1) {
      out.why_not =
          "a " +
          (s.type == "striped" ? "striped (" + std::to_string(s.stripes) + " stripes)" : s.type) +
          " segment";
      return out;
    }
    if (s.pv != pv) {
      out.why_not = "it lies on another physical volume (" + s.pv + ")";
      return out;
    }
    if (uint64_t(s.start_extent) != extents ||
        uint64_t(s.first_pe) != uint64_t(segments[0].first_pe) + extents) {
      out.why_not = "its segments are not one contiguous run";
      return out;
    }
    extents += uint64_t(s.extent_count);
    if (extents > (uint64_t(1) << 40)) return Corrupt(where + ": extent count out of range");
  }
  const uint64_t first = uint64_t(segments[0].first_pe);
  if (first > (uint64_t(1) << 40)) return Corrupt(where + ": extent numbers out of range");
  unsigned __int128 start = (unsigned __int128)first * extent_bytes + pe_start;
  unsigned __int128 size = (unsigned __int128)extents * extent_bytes;
  if (start + size > pv_size) return Corrupt(where + " lies past the end of its PV");
  out.offset = uint64_t(start);
  out.size = uint64_t(size);
  out.linear = true;
  return out;
}

std::string WithoutDashes(const std::string& id) {
  std::string out;
  for (char c : id) {
    if (c != '-') out += c;
  }
  return out;
}

Result<LvmPhysicalVolume> Interpret(const LvmConfigNode& root, const PvHeader& header,
                                    uint64_t pv_size) {
  const LvmConfigNode* vg = nullptr;
  for (const LvmConfigNode& child : root.children) {
    if (child.kind == LvmConfigNode::Kind::kSection && child.Find("physical_volumes")) {
      vg = &child;
      break;
    }
  }
  if (vg == nullptr) return Corrupt("metadata names no volume group");
  LvmPhysicalVolume out;
  out.vg = vg->key;
  ASSIGN_OR_RETURN(int64_t extent_sectors, Integer(*vg, "extent_size", "VG " + out.vg));
  if (extent_sectors == 0 || extent_sectors > (int64_t(1) << 32)) {
    return Corrupt("VG " + out.vg + ": extent size out of range");
  }
  const uint64_t extent_bytes = uint64_t(extent_sectors) * kSector;
  uint64_t pe_start = 0;
  for (const LvmConfigNode& pv : vg->Find("physical_volumes")->children) {
    if (pv.kind != LvmConfigNode::Kind::kSection) continue;
    if (WithoutDashes(StringOr(pv, "id", "")) != header.uuid) continue;
    out.pv = pv.key;
    ASSIGN_OR_RETURN(int64_t start, Integer(pv, "pe_start", "PV " + pv.key));
    if (uint64_t(start) > pv_size / kSector)
      return Corrupt("PV " + pv.key + ": pe_start past its end");
    pe_start = uint64_t(start) * kSector;
  }
  if (out.pv.empty()) return Corrupt("VG " + out.vg + " does not list this PV's UUID");
  const LvmConfigNode* lvs = vg->Find("logical_volumes");
  if (lvs == nullptr) return out;
  for (const LvmConfigNode& lv : lvs->children) {
    if (lv.kind != LvmConfigNode::Kind::kSection) continue;
    ASSIGN_OR_RETURN(LvmLogicalVolume placed,
                     Place(lv, out.pv, pe_start, extent_bytes, pv_size, out.vg));
    out.lvs.push_back(std::move(placed));
  }
  return out;
}

}  // namespace

const LvmConfigNode* LvmConfigNode::Find(std::string_view child) const {
  for (const LvmConfigNode& c : children) {
    if (c.key == child) return &c;
  }
  return nullptr;
}

uint32_t LvmChecksum(std::span<const uint8_t> data) {
  // zlib's crc32 inverts before and after; lvm2's does neither.
  uLong crc = ~uLong(kChecksumSeed) & 0xffffffffu;
  size_t done = 0;
  while (done < data.size()) {
    uInt chunk = uInt(std::min<size_t>(data.size() - done, 1u << 30));
    crc = ::crc32(crc, data.data() + done, chunk);
    done += chunk;
  }
  return ~uint32_t(crc);
}

Result<LvmConfigNode> ParseLvmConfig(std::string_view text) {
  return ConfigParser(text).ParseDocument();
}

Result<std::optional<LvmPhysicalVolume>> ReadLvmPhysicalVolume(uint64_t pv_size,
                                                               const PvReader& read) {
  ASSIGN_OR_RETURN(std::optional<PvHeader> header, FindLabel(pv_size, read));
  if (!header) return std::optional<LvmPhysicalVolume>();
  std::optional<Error> first_error;
  for (const Area& mda : header->metadata_areas) {
    Result<std::optional<std::string>> text = ReadMetadataText(mda, pv_size, read);
    if (!text.ok()) {
      if (!first_error) first_error = text.error();
      continue;
    }
    if (!*text) continue;
    ASSIGN_OR_RETURN(LvmConfigNode root, ParseLvmConfig(**text));
    ASSIGN_OR_RETURN(LvmPhysicalVolume pv, Interpret(root, *header, pv_size));
    return std::optional<LvmPhysicalVolume>(std::move(pv));
  }
  if (first_error) return *first_error;
  return Corrupt("no metadata area holds the volume group's metadata");
}

}  // namespace ferry::image
