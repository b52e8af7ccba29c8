// Resumable v2p. A v2p writes in place onto a disk or an existing file, so
// there is no partial output to keep a checkpoint beside; instead:
// - a regular file target keeps it beside itself, ".NAME.ferry-v2p.ckpt";
// - a block device target keeps it under $FERRY_STATE_DIR/v2p/ (default
//   /var/lib/ferry/v2p/), named after the device number ("dev-8-16.ckpt"):
//   /dev is a tmpfs that a reboot empties, the device itself is what is
//   being written, and the image may be read-only or written to several
//   disks. The device number only names the file; the identity inside
//   (path, number, size, what sysfs says about the disk) is what must match.
// The checkpoint's identity names the source image (as convert's does) and
// the target; a resume is refused when either changed.
#pragma once

#include <optional>
#include <string>

#include "image/convert_checkpoint.h"
#include "image/image.h"

namespace ferry::image {

struct V2pResumeRequest {
  std::string src_path;
  std::string target;
  bool target_exists = false;
  bool target_is_zero = false;  // --target-is-zero
  bool force = false;           // start over when the checkpoint does not match
};

struct V2pResume {
  ConvertCheckpoints checkpoints;
  // Whether the copy may skip zero ranges. A resumed run takes it from the
  // checkpoint: the first run created the file, this one finds it there.
  bool zeroed = false;
  bool resuming() const { return checkpoints.found().has_value(); }
};

// Where the checkpoint for `target` lives; creates the state directory for
// a block device.
Result<std::string> V2pCheckpointPath(const std::string& target);

// Finds a checkpoint for this v2p and decides: resume (it matches), start
// over (none, or --force), or refuse (it does not match, is damaged).
// Called before anything is written to the target.
Result<V2pResume> FindV2pCheckpoint(ImageReader& src, const V2pResumeRequest& request);

// The identity a new run records, once the target is open at its final size.
Result<std::string> V2pIdentity(const std::string& src_path, const ImageReader& src,
                                const std::string& target, bool zeroed);

}  // namespace ferry::image
