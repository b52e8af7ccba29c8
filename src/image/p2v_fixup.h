// `ferry p2v` with guest fix-ups: a copy, a fix-up and a conversion, each
// of which a rerun of the same command takes up after a crash (see the
// comment on FixupP2v in p2v_fixup.cc and docs/import.md).
#pragma once

#include "base/result.h"
#include "image/args.h"
#include "image/image.h"

namespace ferry::image {

// Images `src` (--source) into --out in `format`, with the fix-ups.
Status RunFixupP2v(ImageReader& src, const Args& args, Format format);

}  // namespace ferry::image
