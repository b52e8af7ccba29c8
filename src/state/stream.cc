#include "state/stream.h"

#include <limits.h>
#include <unistd.h>

#include <cerrno>

#include "base/crc32c.h"

namespace ferry::state {
namespace {

// After a partial readv/writev of `done` bytes starting at pieces[first]:
// drops the finished pieces, trims the partly done one, returns the new first.
size_t Advance(std::vector<iovec>& pieces, size_t first, size_t done) {
  while (first < pieces.size() && done >= pieces[first].iov_len) {
    done -= pieces[first].iov_len;
    ++first;
  }
  if (first < pieces.size()) {
    pieces[first].iov_base = static_cast<uint8_t*>(pieces[first].iov_base) + done;
    pieces[first].iov_len -= done;
  }
  return first;
}

}  // namespace

Status FdSink::WriteGather(std::span<const iovec> pieces) {
  std::vector<iovec> left(pieces.begin(), pieces.end());
  size_t first = 0;
  while (first < left.size()) {
    int count = static_cast<int>(std::min<size_t>(left.size() - first, IOV_MAX));
    ssize_t n = ::writev(fd_, &left[first], count);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {  // a socket's SO_SNDTIMEO ran out
        return Error(ErrorCode::kUnavailable,
                     "write timed out: the other end took no data (is it still there?)");
      }
      return ErrnoError("write");
    }
    bytes_written_ += static_cast<uint64_t>(n);
    first = Advance(left, first, static_cast<size_t>(n));
  }
  return OkStatus();
}

Status FdSource::ReadExact(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd_, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {  // a socket's SO_RCVTIMEO ran out
        return Error(ErrorCode::kUnavailable,
                     "read timed out: the other end sent nothing (is it still there?)");
      }
      return ErrnoError("read");
    }
    if (n == 0) {
      return Error(ErrorCode::kCorrupt,
                   "input ends early (truncated after " + std::to_string(bytes_read_) + " bytes)");
    }
    done += static_cast<size_t>(n);
    bytes_read_ += static_cast<uint64_t>(n);
  }
  return OkStatus();
}

Status FdSource::ReadGather(std::span<iovec> pieces) {
  std::vector<iovec> left(pieces.begin(), pieces.end());
  size_t first = 0;
  while (first < left.size()) {
    int count = static_cast<int>(std::min<size_t>(left.size() - first, IOV_MAX));
    ssize_t n = ::readv(fd_, &left[first], count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read");
    }
    if (n == 0) {
      return Error(ErrorCode::kCorrupt,
                   "input ends early (truncated after " + std::to_string(bytes_read_) + " bytes)");
    }
    bytes_read_ += static_cast<uint64_t>(n);
    first = Advance(left, first, static_cast<size_t>(n));
  }
  return OkStatus();
}

Status SectionWriter::WriteFileHeader() {
  auto header = EncodeFileHeader();
  return sink_.Write(header);
}

Status SectionWriter::Write(SectionType type, uint16_t instance, std::span<const uint8_t> payload) {
  iovec piece{const_cast<uint8_t*>(payload.data()), payload.size()};
  return WriteGather(type, instance, {&piece, payload.empty() ? 0u : 1u});
}

Status SectionWriter::WriteGather(SectionType type, uint16_t instance,
                                  std::span<const iovec> pieces, size_t checked) {
  const SectionKind* kind = FindSectionKind(static_cast<uint32_t>(type));
  SectionHeader header{static_cast<uint32_t>(type), kind->version, instance, 0, 0};
  for (const iovec& piece : pieces) header.length += piece.iov_len;
  uint32_t crc = SectionHeaderCrc(header);
  for (size_t i = 0; i < pieces.size() && i < checked; ++i) {
    crc = Crc32c({static_cast<const uint8_t*>(pieces[i].iov_base), pieces[i].iov_len}, crc);
  }
  header.crc = crc;
  auto encoded = EncodeSectionHeader(header);
  std::vector<iovec> all;
  all.reserve(pieces.size() + 1);
  all.push_back({encoded.data(), encoded.size()});
  all.insert(all.end(), pieces.begin(), pieces.end());
  return sink_.WriteGather(all);
}

Status SectionReader::ReadFileHeader() {
  std::array<uint8_t, kFileHeaderSize> bytes;
  RETURN_IF_ERROR_CTX(source_.ReadExact(bytes), "reading the state header");
  return CheckFileHeader(bytes);
}

Result<Section> SectionReader::Next() {
  std::array<uint8_t, kSectionHeaderSize> bytes;
  RETURN_IF_ERROR_CTX(source_.ReadExact(bytes), "reading a section header");
  Section section{DecodeSectionHeader(bytes), {}};
  RETURN_IF_ERROR(CheckSectionHeader(section.header));
  section.payload.resize(section.header.length);
  RETURN_IF_ERROR_CTX(source_.ReadExact(section.payload),
                      "reading section '" + section.name() + "'");
  uint32_t crc = Crc32c(section.payload, SectionHeaderCrc(section.header));
  if (crc != section.header.crc) {
    return Error(ErrorCode::kCorrupt, "section '" + section.name() + "' (instance " +
                                          std::to_string(section.header.instance) +
                                          ") is corrupt: CRC mismatch");
  }
  return section;
}

Result<SectionHeader> SectionReader::NextHeader() {
  std::array<uint8_t, kSectionHeaderSize> bytes;
  RETURN_IF_ERROR_CTX(source_.ReadExact(bytes), "reading a section header");
  current_ = DecodeSectionHeader(bytes);
  RETURN_IF_ERROR(CheckSectionHeader(current_));
  left_ = current_.length;
  crc_ = SectionHeaderCrc(current_);
  return current_;
}

Status SectionReader::ReadPiece(std::span<uint8_t> out) {
  if (out.size() > left_) {
    return Error(ErrorCode::kCorrupt,
                 "section '" + SectionName(current_.type) + "' is shorter than its contents claim");
  }
  RETURN_IF_ERROR_CTX(source_.ReadExact(out),
                      "reading section '" + SectionName(current_.type) + "'");
  crc_ = Crc32c(out, crc_);
  left_ -= out.size();
  return OkStatus();
}

Status SectionReader::ReadPieces(std::span<iovec> pieces, bool checked) {
  uint64_t total = 0;
  for (const iovec& piece : pieces) total += piece.iov_len;
  if (total > left_) {
    return Error(ErrorCode::kCorrupt,
                 "section '" + SectionName(current_.type) + "' is shorter than its contents claim");
  }
  RETURN_IF_ERROR_CTX(source_.ReadGather(pieces),
                      "reading section '" + SectionName(current_.type) + "'");
  for (const iovec& piece : pieces) {
    if (checked) crc_ = Crc32c({static_cast<const uint8_t*>(piece.iov_base), piece.iov_len}, crc_);
  }
  left_ -= total;
  return OkStatus();
}

Status SectionReader::Finish() {
  if (left_ != 0) {
    return Error(ErrorCode::kCorrupt,
                 "section '" + SectionName(current_.type) + "' is longer than its contents claim");
  }
  if (crc_ != current_.crc) {
    return Error(ErrorCode::kCorrupt,
                 "section '" + SectionName(current_.type) + "' is corrupt: CRC mismatch");
  }
  return OkStatus();
}

}  // namespace ferry::state
