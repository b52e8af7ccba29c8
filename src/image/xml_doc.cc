#include "image/xml_doc.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <climits>

namespace ferry::image {
namespace {

const char* Chars(const xmlChar* s) {
  return reinterpret_cast<const char*>(s);
}

std::string Trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::string XmlNode::name() const {
  return node_->name ? Chars(node_->name) : "";
}

std::vector<XmlNode> XmlNode::Children(std::string_view name) const {
  std::vector<XmlNode> out;
  for (xmlNode* c = node_->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (name.empty() || name == Chars(c->name)) out.emplace_back(c);
  }
  return out;
}

std::optional<XmlNode> XmlNode::Child(std::string_view name) const {
  for (xmlNode* c = node_->children; c; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && name == Chars(c->name)) return XmlNode(c);
  }
  return std::nullopt;
}

std::optional<std::string> XmlNode::Attr(std::string_view name) const {
  for (xmlAttr* a = node_->properties; a; a = a->next) {
    if (name != Chars(a->name)) continue;
    xmlChar* value = xmlNodeListGetString(node_->doc, a->children, 1);
    std::string s = value ? Chars(value) : "";
    xmlFree(value);
    return s;
  }
  return std::nullopt;
}

std::string XmlNode::Text() const {
  xmlChar* content = xmlNodeGetContent(node_);
  std::string s = content ? Chars(content) : "";
  xmlFree(content);
  return Trim(std::move(s));
}

std::string XmlNode::ChildText(std::string_view name) const {
  std::optional<XmlNode> c = Child(name);
  return c ? c->Text() : "";
}

void XmlDoc::Free::operator()(_xmlDoc* doc) const {
  xmlFreeDoc(doc);
}

Result<XmlDoc> XmlDoc::Parse(std::string_view text, const std::string& what) {
  if (text.size() > INT_MAX / 2) return Error(ErrorCode::kCorrupt, what + ": too large");
  xmlResetLastError();
  xmlDoc* doc = xmlReadMemory(text.data(), int(text.size()), nullptr, nullptr,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  XmlDoc d;
  d.doc_.reset(doc);
  if (doc == nullptr) {
    const xmlError* e = xmlGetLastError();
    std::string why = e && e->message ? Trim(e->message) : "not well-formed";
    int line = e ? e->line : 0;
    return Error(ErrorCode::kCorrupt,
                 what + ": XML error at line " + std::to_string(line) + ": " + why);
  }
  // Internal DTDs can define entities that expand without bound; no
  // descriptor needs one.
  if (doc->intSubset != nullptr) {
    return Error(ErrorCode::kCorrupt, what + ": documents with a DTD are not accepted");
  }
  if (xmlDocGetRootElement(doc) == nullptr) {
    return Error(ErrorCode::kCorrupt, what + ": no root element");
  }
  return d;
}

XmlNode XmlDoc::root() const {
  return XmlNode(xmlDocGetRootElement(doc_.get()));
}

}  // namespace ferry::image
