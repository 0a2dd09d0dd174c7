#include "wire/change.h"

namespace hl {

const char* changeTypeName(ChangeType type) {
  switch (type) {
    case ChangeType::kInsert: return "insert";
    case ChangeType::kUpdate: return "update";
    case ChangeType::kDelete: return "delete";
  }
  return "insert";
}

const Value* Change::find(const QString& name) const {
  for (const auto& [column, value] : row)
    if (column == name) return &value;
  return nullptr;
}

}  // namespace hl
