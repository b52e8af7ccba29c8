#include "state/fields.h"

namespace ferry::state {

void FieldWriter::PutBytes(uint16_t id, std::span<const uint8_t> bytes) {
  uint8_t header[8];
  uint16_t zero = 0;
  uint32_t length = static_cast<uint32_t>(bytes.size());
  std::memcpy(header, &id, 2);
  std::memcpy(header + 2, &zero, 2);
  std::memcpy(header + 4, &length, 4);
  out_.insert(out_.end(), header, header + 8);
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

Result<FieldReader> FieldReader::Parse(std::span<const uint8_t> payload, std::string section) {
  FieldReader reader;
  reader.section_ = std::move(section);
  size_t pos = 0;
  while (pos < payload.size()) {
    if (payload.size() - pos < 8) {
      return Error(ErrorCode::kCorrupt,
                   "section '" + reader.section_ + "' ends inside a field header");
    }
    uint16_t id;
    uint32_t length;
    std::memcpy(&id, &payload[pos], 2);
    std::memcpy(&length, &payload[pos + 4], 4);
    pos += 8;
    if (length > payload.size() - pos) {
      return Error(ErrorCode::kCorrupt, "section '" + reader.section_ + "' field " +
                                            std::to_string(id) + " runs past the section");
    }
    if (!reader.fields_.emplace(id, payload.subspan(pos, length)).second) {
      return Error(ErrorCode::kCorrupt,
                   "section '" + reader.section_ + "' has field " + std::to_string(id) + " twice");
    }
    pos += length;
  }
  return reader;
}

Result<std::span<const uint8_t>> FieldReader::Bytes(uint16_t id) const {
  auto it = fields_.find(id);
  if (it == fields_.end()) {
    return Error(ErrorCode::kCorrupt,
                 "section '" + section_ + "' lacks field " + std::to_string(id));
  }
  return it->second;
}

Result<std::string> FieldReader::GetString(uint16_t id, size_t max_len) const {
  ASSIGN_OR_RETURN(std::span<const uint8_t> bytes, Bytes(id));
  if (bytes.size() > max_len) return SizeError(id, bytes.size(), 1);
  return std::string(bytes.begin(), bytes.end());
}

Error FieldReader::SizeError(uint16_t id, size_t got, size_t unit) const {
  return Error(ErrorCode::kCorrupt, "section '" + section_ + "' field " + std::to_string(id) +
                                        " has " + std::to_string(got) +
                                        " bytes, expected units of " + std::to_string(unit));
}

}  // namespace ferry::state
