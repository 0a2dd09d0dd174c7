// A change: one captured row change, as carried by one NATS message (docs/wire-format.md#message).
// Thread: value type, any thread.
#pragma once

#include <QList>
#include <QPair>
#include <QString>

#include <cstdint>

#include "wire/value.h"

namespace hl {

// Wire names: "insert", "update", "delete". The numbers are stored in the change log
// (__harmonylite__changes.op): written to disk, never renumbered.
enum class ChangeType : int { kInsert = 1, kUpdate = 2, kDelete = 3 };

const char* changeTypeName(ChangeType type);

// A column of a row image: (column name, value), in the order the encoder writes them.
using RowImage = QList<QPair<QString, Value>>;

struct Change {
  uint64_t fromNodeId = 0;  // FromNodeId
  int64_t id = 0;           // Payload.Id: the change's id in the sender's change log
  ChangeType type = ChangeType::kInsert;  // Payload.Type
  QString table;            // Payload.TableName, as stored in sqlite_schema
  RowImage row;             // Payload.Row; "rowid" for tables without a declared primary key
  QString schemaHash;       // Payload.sh (64 lower-hex chars); empty when the sender sent none

  // The value of column `name` (exact match), or nullptr.
  const Value* find(const QString& name) const;
};

}  // namespace hl
