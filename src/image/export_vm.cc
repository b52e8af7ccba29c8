#include "image/export_vm.h"

namespace ferry::image {

bool InVmwareStaticRange(const std::string& mac) {
  // The fourth byte's first hex digit is 0-3.
  if (mac.size() != 17 || mac.compare(0, 9, "00:50:56:") != 0) return false;
  return mac[9] >= '0' && mac[9] <= '3';
}

std::string ScsiSlot(size_t index) {
  const size_t controller = index / 15;
  size_t unit = index % 15;
  if (unit >= 7) ++unit;
  return "scsi" + std::to_string(controller) + ":" + std::to_string(unit);
}

std::string DiskLetters(size_t index) {
  std::string letters;
  for (size_t n = index + 1; n > 0; n = (n - 1) / 26)
    letters.insert(0, 1, char('a' + (n - 1) % 26));
  return letters;
}

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace ferry::image
