#include "workloads/diskcheck_disk.h"

#include "rt/console.h"
#include "rt/exit.h"
#include "workloads/diskcheck_block.h"

namespace guest::diskcheck {
namespace {

constexpr uint32_t kTableChunk = 64 * 1024;  // bytes of table per request

}  // namespace

void Disk::io(uint32_t type, uint64_t sector, void* data, uint64_t bytes, const char* what,
              uint64_t index) {
  uint8_t status = device_.run(type, sector, data, static_cast<uint32_t>(bytes));
  if (status == virtio::kBlkOk) return;
  console::print("diskcheck: FAIL reason=io_error op=%s what=%s block=%lu sector=%lu status=%s\n",
                 virtio::blk_type_name(type), what, index, sector, virtio::blk_status_name(status));
  exit_guest(kExitVerifyFailed);
}

void Disk::read(uint64_t sector, void* data, uint64_t bytes, const char* what, uint64_t index) {
  io(virtio::kBlkIn, sector, data, bytes, what, index);
}

void Disk::write(uint64_t sector, const void* data, uint64_t bytes, const char* what,
                 uint64_t index) {
  io(virtio::kBlkOut, sector, const_cast<void*>(data), bytes, what, index);
}

void Disk::flush() {
  // Without VIRTIO_BLK_F_FLUSH the device has no volatile cache to flush (spec 5.2.6.2).
  if (device_.can_flush()) io(virtio::kBlkFlush, 0, nullptr, 0, "flush", 0);
}

void Disk::verify(uint64_t index) {
  uint64_t words = layout_.block_size / 8;
  read(layout_.data_sector(index), buffer_, layout_.block_size, "data", index);
  ++verified_;
  Mismatch m;
  if (verify_block(buffer_, words, index, versions_[index], run_, &m)) return;
  console::print(
      "diskcheck: FAIL reason=mismatch block=%lu sector=%lu expected_version=%lu "
      "found_index=%ld found_version=%lu found_run=0x%lx run=0x%lx word=%lu\n",
      index, layout_.data_sector(index), versions_[index], static_cast<int64_t>(m.found_index),
      m.found_version, m.found_run, run_, m.word);
  exit_guest(kExitVerifyFailed);
}

void Disk::verify_unwritten(uint64_t index, bool zeroed) {
  read(layout_.data_sector(index), buffer_, layout_.block_size, "data", index);
  ++verified_;
  if (zeroed) {
    for (uint64_t k = 0; k < layout_.block_size / 8; ++k) {
      if (buffer_[k] == 0) continue;
      console::print("diskcheck: FAIL reason=not_zero block=%lu sector=%lu word=%lu found=0x%lx\n",
                     index, layout_.data_sector(index), k, buffer_[k]);
      exit_guest(kExitVerifyFailed);
    }
  }
  if (!written_by_run(buffer_, index, run_)) return;
  console::print(
      "diskcheck: FAIL reason=unrecorded_write block=%lu sector=%lu expected_version=0 "
      "found_version=%lu run=0x%lx\n",
      index, layout_.data_sector(index), buffer_[1], run_);
  exit_guest(kExitVerifyFailed);
}

void Disk::write_block(uint64_t index) {
  if (versions_[index] != 0) verify(index);
  uint64_t version = versions_[index] + 1;
  fill_block(buffer_, layout_.block_size / 8, index, version, run_);
  write(layout_.data_sector(index), buffer_, layout_.block_size, "data", index);
  versions_[index] = version;
  ++written_;
}

void Disk::corrupt(uint64_t index) {
  uint64_t words = layout_.block_size / 8;
  fill_block(buffer_, words, index, versions_[index], run_);
  buffer_[words / 2] ^= 1;
  write(layout_.data_sector(index), buffer_, layout_.block_size, "data", index);
}

void Disk::verify_version_sum(uint64_t expected_writes) const {
  uint64_t sum = 0;
  for (uint64_t i = 0; i < layout_.blocks; ++i) sum += versions_[i];
  if (sum == expected_writes) return;
  console::print("diskcheck: FAIL reason=version_sum expected=%lu found=%lu\n", expected_writes,
                 sum);
  exit_guest(kExitVerifyFailed);
}

void Disk::ranged(uint32_t type, uint32_t max_sectors) {
  uint64_t first = layout_.data_sector(0);
  uint64_t end = layout_.data_sector(layout_.blocks);
  // Whole blocks per request, so that each request stays block aligned.
  uint64_t step = max_sectors / layout_.sectors_per_block() * layout_.sectors_per_block();
  if (step == 0) step = layout_.sectors_per_block();
  if (step > (1u << 22)) step = 1u << 22;  // the byte count must fit 32 bits
  for (uint64_t s = first; s < end; s += step) {
    uint64_t n = end - s < step ? end - s : step;
    io(type, s, nullptr, n * 512, virtio::blk_type_name(type),
       (s - first) / layout_.sectors_per_block());
  }
}

uint64_t Disk::prepare(bool* discarded) {
  *discarded = device_.can_discard();
  if (*discarded) ranged(virtio::kBlkDiscard, device_.max_discard_sectors());
  if (!device_.can_write_zeroes()) return 0;
  ranged(virtio::kBlkWriteZeroes, device_.max_write_zeroes_sectors());
  const uint64_t probes[3] = {0, layout_.blocks / 2, layout_.blocks - 1};
  for (uint64_t index : probes) verify_unwritten(index, true);
  return kFlagZeroed;
}

void Disk::save(uint64_t state, uint64_t writes, uint64_t flags) {
  HeaderState h{run_, state, writes, 0, 0, flags};
  if (state == kStateClean) {
    // The table is written straight from the RAM array, padded by the zeroed tail of the
    // last block (the arena hands out zeroed memory rounded to whole blocks).
    uint64_t bytes = layout_.table_blocks * layout_.block_size;
    auto* table = reinterpret_cast<uint8_t*>(versions_);
    for (uint64_t done = 0; done < bytes; done += kTableChunk) {
      uint64_t n = bytes - done < kTableChunk ? bytes - done : kTableChunk;
      write(layout_.table_sector() + done / 512, table + done, n, "table", done / 8);
    }
    flush();
    for (uint64_t i = 0; i < layout_.blocks; ++i) h.version_sum += versions_[i];
    h.table_checksum = table_checksum(versions_, layout_.blocks);
  }
  encode_header(layout_, h, buffer_);
  write(0, buffer_, layout_.block_size, "header", 0);
  flush();
}

void Disk::load_table() {
  uint64_t bytes = layout_.table_blocks * layout_.block_size;
  auto* table = reinterpret_cast<uint8_t*>(versions_);
  for (uint64_t done = 0; done < bytes; done += kTableChunk) {
    uint64_t n = bytes - done < kTableChunk ? bytes - done : kTableChunk;
    read(layout_.table_sector() + done / 512, table + done, n, "table", done / 8);
  }
}

}  // namespace guest::diskcheck
