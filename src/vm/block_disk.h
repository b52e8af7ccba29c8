// A virtio-blk device seen by the migration engine (migration::MigratableDisk):
// its image for block migration, and the copy session it records writes into.
#pragma once

#include "devices/virtio/block.h"
#include "migration/migratable_disk.h"

namespace ferry {

class BlockDisk final : public migration::MigratableDisk {
 public:
  explicit BlockDisk(VirtioBlock& block) : block_(block) {}
  std::string path() const override { return block_.disk().path(); }
  uint64_t size_bytes() const override { return block_.disk().size(); }
  bool readonly() const override { return block_.disk().read_only(); }
  int image_fd() const override { return block_.disk().fd(); }
  std::shared_ptr<DiskCopySession> copy_session() const override { return block_.copy_session(); }
  void set_copy_session(std::shared_ptr<DiskCopySession> session) override {
    block_.set_copy_session(std::move(session));
  }

 private:
  VirtioBlock& block_;
};

}  // namespace ferry
