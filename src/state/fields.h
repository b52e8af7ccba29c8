// Tagged fields inside a section payload: each field is (u16 id, u16 zero,
// u32 length, bytes). Readers look fields up by id, so a newer writer can add
// fields without breaking older readers, and a reader can default a field an
// older writer did not have. Ids are never reused within a section type.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "base/result.h"

namespace ferry::state {

class FieldWriter {
 public:
  void PutBytes(uint16_t id, std::span<const uint8_t> bytes);
  template <typename T>
  void Put(uint16_t id, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    PutBytes(id, {reinterpret_cast<const uint8_t*>(&value), sizeof(T)});
  }
  template <typename T>
  void PutVector(uint16_t id, const std::vector<T>& values) {
    static_assert(std::is_trivially_copyable_v<T>);
    PutBytes(id, {reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(T)});
  }
  void PutString(uint16_t id, const std::string& s) {
    PutBytes(id, {reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  }
  const std::vector<uint8_t>& bytes() const { return out_; }

 private:
  std::vector<uint8_t> out_;
};

class FieldReader {
 public:
  // Splits a payload into fields; `section` names the section in errors.
  static Result<FieldReader> Parse(std::span<const uint8_t> payload, std::string section);

  bool Has(uint16_t id) const { return fields_.count(id) != 0; }
  Result<std::span<const uint8_t>> Bytes(uint16_t id) const;

  // A field that must hold exactly one T.
  template <typename T>
  Result<T> Get(uint16_t id) const {
    static_assert(std::is_trivially_copyable_v<T>);
    ASSIGN_OR_RETURN(std::span<const uint8_t> bytes, Bytes(id));
    if (bytes.size() != sizeof(T)) return SizeError(id, bytes.size(), sizeof(T));
    T value;
    std::memcpy(&value, bytes.data(), sizeof(T));
    return value;
  }
  template <typename T>
  Result<T> GetOr(uint16_t id, T fallback) const {
    if (!Has(id)) return fallback;
    return Get<T>(id);
  }
  // A field holding a whole number of Ts, at most `max_count`.
  template <typename T>
  Result<std::vector<T>> GetVector(uint16_t id, size_t max_count) const {
    static_assert(std::is_trivially_copyable_v<T>);
    ASSIGN_OR_RETURN(std::span<const uint8_t> bytes, Bytes(id));
    if (bytes.size() % sizeof(T) != 0 || bytes.size() / sizeof(T) > max_count) {
      return SizeError(id, bytes.size(), sizeof(T));
    }
    std::vector<T> values(bytes.size() / sizeof(T));
    if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
    return values;
  }
  Result<std::string> GetString(uint16_t id, size_t max_len) const;

 private:
  Error SizeError(uint16_t id, size_t got, size_t unit) const;
  std::string section_;
  std::map<uint16_t, std::span<const uint8_t>> fields_;
};

}  // namespace ferry::state
