// Shared by the fuzz targets: the image readers take files, so each input
// is written to a scratch file in a private directory first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "image/image.h"

namespace ferry::fuzz {

// Writes the input to "<private dir>/<name>" (replacing the last one) and
// returns the path. The directory is also the working directory, so that
// relative names inside an image (VMDK extents) stay in it.
std::string ScratchFile(const uint8_t* data, size_t size, const char* name);

// Opens the scratch file as `format` without backing files, then maps and
// reads a bounded part of it, as convert would.
void OpenAndRead(const uint8_t* data, size_t size, image::Format format, const char* name);

}  // namespace ferry::fuzz
