// Reading and writing sections over any byte stream: a file, a socket.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "state/format.h"

namespace ferry::state {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Writes every byte of every piece, in order.
  virtual Status WriteGather(std::span<const iovec> pieces) = 0;
  Status Write(std::span<const uint8_t> bytes) {
    iovec piece{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    return WriteGather({&piece, 1});
  }
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Fills `out` completely; a stream that ends first is an error (truncated input).
  virtual Status ReadExact(std::span<uint8_t> out) = 0;
  // Fills every piece completely, in order.
  virtual Status ReadGather(std::span<iovec> pieces) {
    for (iovec& piece : pieces) {
      RETURN_IF_ERROR(ReadExact({static_cast<uint8_t*>(piece.iov_base), piece.iov_len}));
    }
    return OkStatus();
  }
};

// A sink/source over a file descriptor the caller owns (file or socket).
class FdSink final : public ByteSink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  Status WriteGather(std::span<const iovec> pieces) override;
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  int fd_;
  uint64_t bytes_written_ = 0;
};

class FdSource final : public ByteSource {
 public:
  explicit FdSource(int fd) : fd_(fd) {}
  Status ReadExact(std::span<uint8_t> out) override;
  Status ReadGather(std::span<iovec> pieces) override;
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  int fd_;
  uint64_t bytes_read_ = 0;
};

class SectionWriter {
 public:
  explicit SectionWriter(ByteSink& sink) : sink_(sink) {}
  Status WriteFileHeader();
  Status Write(SectionType type, uint16_t instance, std::span<const uint8_t> payload);
  // A section whose payload is the concatenation of `pieces` (no copy is made).
  // Only the first `checked` pieces enter the CRC (all by default); a section
  // type that leaves some bytes unchecked says so in its own covered bytes.
  Status WriteGather(SectionType type, uint16_t instance, std::span<const iovec> pieces,
                     size_t checked = SIZE_MAX);
  Status WriteEnd() { return Write(SectionType::kEnd, 0, {}); }

 private:
  ByteSink& sink_;
};

struct Section {
  SectionHeader header;
  std::vector<uint8_t> payload;
  std::string name() const { return SectionName(header.type); }
};

class SectionReader {
 public:
  explicit SectionReader(ByteSource& source) : source_(source) {}
  Status ReadFileHeader();
  // The next section, its header and CRC checked. An End section comes back
  // like any other; the caller stops there.
  Result<Section> Next();

  // Streaming alternative to Next() for large payloads that go straight to
  // their destination (guest pages): read the header, then the payload in
  // pieces, then Finish() checks that the pieces added up and the CRC holds.
  Result<SectionHeader> NextHeader();
  Status ReadPiece(std::span<uint8_t> out);
  // `checked` false: the bytes are not part of the CRC (see WriteGather).
  Status ReadPieces(std::span<iovec> pieces, bool checked = true);
  Status Finish();

 private:
  ByteSource& source_;
  SectionHeader current_{};
  uint64_t left_ = 0;
  uint32_t crc_ = 0;
};

}  // namespace ferry::state
