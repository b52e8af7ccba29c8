#include "fuzz_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace ferry::fuzz {
namespace {

// The scratch directory's path; a plain array, so that it outlives the
// static destructors that run before the atexit handler.
char scratch_dir[64];

// At exit (libFuzzer ends with exit()): the files made here, then the directory.
void RemoveScratch() {
  for (const char* name : {"input.qcow2", "input.vmdk", "input.vhd", "input.vhdx", "input.img",
                           "check.qcow2", "resume.qcow2", "input.ova"}) {
    ::unlink((std::string(scratch_dir) + "/" + name).c_str());
  }
  ::rmdir(scratch_dir);
}

// One scratch directory per process, made on first use.
const char* ScratchDir() {
  if (scratch_dir[0]) return scratch_dir;
  // tmpfs when there is one: every input is written to a file.
  std::snprintf(scratch_dir, sizeof scratch_dir, "%s/ferry-fuzz-XXXXXX",
                ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
  if (::mkdtemp(scratch_dir) == nullptr || ::chdir(scratch_dir) != 0) {
    std::perror("ferry fuzz: scratch directory");
    std::abort();
  }
  std::atexit(RemoveScratch);
  return scratch_dir;
}

}  // namespace

std::string ScratchFile(const uint8_t* data, size_t size, const char* name) {
  std::string path = std::string(ScratchDir()) + "/" + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) std::abort();
    done += size_t(n);
  }
  ::close(fd);
  return path;
}

void OpenAndRead(const uint8_t* data, size_t size, image::Format format, const char* name) {
  std::string path = ScratchFile(data, size, name);
  image::OpenOptions options;
  options.format = format;
  options.open_backing = false;
  auto reader = image::OpenImage(path, options);
  if (!reader.ok()) return;
  image::ImageReader& r = **reader;
  (void)r.Details();
  const uint64_t vsize = r.virtual_size();
  std::vector<uint8_t> buf(64 << 10);
  uint64_t pos = 0;
  // Bounded: a hostile image may describe a huge disk of tiny extents.
  for (int i = 0; i < 256 && pos < vsize; ++i) {
    auto e = r.Map(pos, vsize - pos);
    if (!e.ok() || e->length == 0) break;
    if (e->data && i < 32) {
      uint64_t n = std::min<uint64_t>(e->length, buf.size());
      (void)r.Read(e->start, std::span<uint8_t>(buf.data(), n));
    }
    pos = e->start + e->length;
  }
  if (vsize >= 512) (void)r.Read(vsize - 512, std::span<uint8_t>(buf.data(), 512));
}

}  // namespace ferry::fuzz
