// A read-only view of an XML document (OVF descriptors, libvirt domain XML)
// through libxml2, set up for hostile input: no network, no DTDs (so no
// entity expansion), element names matched by local name so that namespace
// prefixes (ovf:, rasd:) do not matter.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

struct _xmlDoc;
struct _xmlNode;

namespace ferry::image {

class XmlNode {
 public:
  explicit XmlNode(_xmlNode* node) : node_(node) {}

  std::string name() const;  // local name, without the prefix
  // The element children with local name `name` (all of them if empty).
  std::vector<XmlNode> Children(std::string_view name = {}) const;
  std::optional<XmlNode> Child(std::string_view name) const;
  // An attribute by local name (any namespace).
  std::optional<std::string> Attr(std::string_view name) const;
  // The text content, trimmed of surrounding white space.
  std::string Text() const;
  // Text of the child `name`, or "" when absent.
  std::string ChildText(std::string_view name) const;

 private:
  _xmlNode* node_;
};

class XmlDoc {
 public:
  // `what` names the document in error messages.
  static Result<XmlDoc> Parse(std::string_view text, const std::string& what);

  XmlNode root() const;

 private:
  struct Free {
    void operator()(_xmlDoc* doc) const;
  };
  std::unique_ptr<_xmlDoc, Free> doc_;
};

}  // namespace ferry::image
