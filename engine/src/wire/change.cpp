#include "wire/change.h"

namespace hl {

const char* changeTypeName(ChangeType type) {
  switch (type) {
    case ChangeType::kInsert:
      return "insert";
    case ChangeType::kUpdate:
      return "update";
    case ChangeType::kDelete:
      return "delete";
  }
  return "insert";
}

QByteArray messageId(uint64_t nodeId, int64_t changeId) {
  return QByteArray::number(quint64(nodeId)) + '-' + QByteArray::number(qint64(changeId));
}

bool parseMessageId(const QByteArray& id, uint64_t* nodeId, int64_t* changeId) {
  const qsizetype dash = id.indexOf('-');
  if (dash <= 0) return false;
  bool nodeOk = false, changeOk = false;
  const quint64 node = id.left(dash).toULongLong(&nodeOk);
  const qint64 change = id.mid(dash + 1).toLongLong(&changeOk);
  if (!nodeOk || !changeOk) return false;
  *nodeId = node;
  *changeId = change;
  return true;
}

const Value* Change::find(const QString& name) const {
  for (const auto& [column, value] : row)
    if (column == name) return &value;
  return nullptr;
}

}  // namespace hl
