#include "image/export_disks.h"

#include <unistd.h>

#include <memory>

#include "image/command_util.h"
#include "image/convert.h"
#include "image/file.h"

namespace ferry::image {
namespace {

using Readers = std::vector<std::unique_ptr<ImageReader>>;

Result<Readers> OpenAll(const std::vector<DiskSource>& sources) {
  Readers readers;
  for (size_t i = 0; i < sources.size(); ++i) {
    const std::string which = "disk " + std::to_string(i) + " (" + sources[i].path + ")";
    Result<Format> format = ParseFormat(sources[i].format);
    if (!format.ok()) return std::move(format).error().WithContext(which);
    OpenOptions open;
    open.format = *format;
    Result<std::unique_ptr<ImageReader>> r = OpenImage(sources[i].path, open);
    if (!r.ok()) return std::move(r).error().WithContext(which);
    readers.push_back(std::move(*r));
  }
  return readers;
}

Status Convert(ImageReader& src, Format format, const std::string& out, CreateOptions create,
               bool progress) {
  create.final_name = out.substr(out.rfind('/') + 1);
  ASSIGN_OR_RETURN(auto dst, CreateImage(format, out, src.virtual_size(), create));
  CopyOptions copy;
  if (progress) copy.progress = PrintCopyProgress;
  RETURN_IF_ERROR(CopyImage(src, *dst, copy));
  return OkStatus();
}

// Raw copies of every disk in `work_dir`, fixed up together (fstab on one
// disk names the others).
Result<FixupReport> StageAndFix(Readers& readers, const std::string& work_dir, DiskNaming naming,
                                bool progress, std::vector<std::string>& raws) {
  for (size_t i = 0; i < readers.size(); ++i) {
    raws.push_back(work_dir + "/disk" + std::to_string(i) + ".raw");
    RETURN_IF_ERROR_CTX(Convert(*readers[i], Format::kRaw, raws[i], {}, progress),
                        "disk " + std::to_string(i));
  }
  FixupOptions options;
  options.naming = naming;
  return FixGuest(raws, options);
}

}  // namespace

Result<ExportedDisks> ExportDisks(const std::vector<DiskSource>& sources, const DiskTarget& target,
                                  const std::string& base, const std::string& out_dir,
                                  const std::string& work_dir, bool fixup, bool progress) {
  ASSIGN_OR_RETURN(Readers readers, OpenAll(sources));
  ExportedDisks result;
  std::vector<std::string> raws;
  if (fixup) {
    ASSIGN_OR_RETURN(result.fixup, StageAndFix(readers, work_dir, target.naming, progress, raws));
  }
  for (size_t i = 0; i < readers.size(); ++i) {
    ExportDisk d;
    d.file = base + "-disk" + std::to_string(i) + target.extension;
    d.capacity = readers[i]->virtual_size();
    const std::string out = out_dir + "/" + d.file;
    std::unique_ptr<ImageReader> staged;
    if (fixup) {
      ASSIGN_OR_RETURN(staged, OpenImage(raws[i], OpenOptions{Format::kRaw, false, {}}));
    }
    RETURN_IF_ERROR_CTX(
        Convert(staged ? *staged : *readers[i], target.format, out, target.create, progress),
        "disk " + std::to_string(i));
    if (fixup) ::unlink(raws[i].c_str());
    ASSIGN_OR_RETURN(ImageFile f, ImageFile::Open(out, false));
    ASSIGN_OR_RETURN(d.file_size, f.Size());
    result.disks.push_back(d);
  }
  return result;
}

}  // namespace ferry::image
