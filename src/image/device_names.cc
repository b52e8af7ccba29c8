#include "image/device_names.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace ferry::image {
namespace {

struct Match {
  size_t length = 0;    // of the whole name
  std::string letters;  // "a", "aa"
  std::string number;   // partition, possibly empty
};

const char* Prefix(DiskNaming naming) {
  switch (naming) {
    case DiskNaming::kScsi:
    case DiskNaming::kHyperV:
      return "sd";
    case DiskNaming::kXen:
      return "xvd";
    case DiskNaming::kVirtio:
      break;
  }
  return "vd";
}

// A disk name at `at` ("/dev/" already matched by the caller) that is not
// already named for `naming`.
std::optional<Match> MatchName(const std::string& t, size_t at, DiskNaming naming) {
  size_t p = at;
  for (const char* prefix : {"xvd", "hd", "sd", "vd"}) {
    size_t n = std::char_traits<char>::length(prefix);
    if (std::strcmp(prefix, Prefix(naming)) == 0) continue;
    if (t.compare(p, n, prefix) == 0) {
      p += n;
      Match m;
      while (p < t.size() && t[p] >= 'a' && t[p] <= 'z' && m.letters.size() < 3)
        m.letters += t[p++];
      if (m.letters.empty()) return std::nullopt;
      while (p < t.size() && std::isdigit(static_cast<unsigned char>(t[p])) &&
             m.number.size() < 3) {
        m.number += t[p++];
      }
      // The name must end here: "/dev/sdaX" or "/dev/sda1x" are something else.
      if (p < t.size() && (std::isalnum(static_cast<unsigned char>(t[p])) || t[p] == '_')) {
        return std::nullopt;
      }
      m.length = p - at;
      return m;
    }
  }
  return std::nullopt;
}

int DiskIndex(const std::string& letters) {
  int v = 0;
  for (char c : letters) v = v * 26 + (c - 'a' + 1);
  return v - 1;
}

// True at the first field of an fstab line.
bool AtLineStart(const std::string& t, size_t at) {
  size_t p = at;
  while (p > 0 && (t[p - 1] == ' ' || t[p - 1] == '\t')) --p;
  return p == 0 || t[p - 1] == '\n';
}

}  // namespace

Rewrite RewriteDeviceNames(const std::string& text, const UuidFor& uuid_for, DiskNaming naming) {
  Rewrite r;
  static const std::string kDev = "/dev/";
  size_t at = 0;
  while (at < text.size()) {
    size_t found = text.find(kDev, at);
    if (found == std::string::npos) break;
    r.text.append(text, at, found - at);
    std::optional<Match> m = MatchName(text, found + kDev.size(), naming);
    if (!m) {
      r.text += kDev;
      at = found + kDev.size();
      continue;
    }
    std::optional<std::string> uuid;
    if (uuid_for && AtLineStart(text, found)) {
      uuid = uuid_for(DiskIndex(m->letters), m->number.empty() ? 0 : std::stoi(m->number));
    }
    r.text += uuid ? *uuid : kDev + Prefix(naming) + m->letters + m->number;
    ++r.changes;
    at = found + kDev.size() + m->length;
  }
  r.text.append(text, std::min(at, text.size()), std::string::npos);
  return r;
}

}  // namespace ferry::image
