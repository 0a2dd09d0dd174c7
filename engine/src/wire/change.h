// A change: one captured row change, as carried by one NATS message (docs/wire-format.md#message).
// Thread: value type, any thread.
#pragma once

#include <QByteArray>
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

// Nats-Msg-Id of a change this edition publishes: "<node id>-<change id>"
// (docs/wire-format.md#message). JetStream drops a second message with the same id inside its
// duplicates window, so a change sent again after a lost ack is stored once.
QByteArray messageId(uint64_t nodeId, int64_t changeId);
// The parts of a message id made by messageId(); false for anything else (a Go sender sends
// none, and the header is not trusted beyond this).
bool parseMessageId(const QByteArray& id, uint64_t* nodeId, int64_t* changeId);

// A column of a row image: (column name, value), in the order the encoder writes them.
using RowImage = QList<QPair<QString, Value>>;

struct Change {
  uint64_t fromNodeId = 0;                // FromNodeId
  int64_t id = 0;                         // Payload.Id: the change's id in the sender's change log
  ChangeType type = ChangeType::kInsert;  // Payload.Type
  QString table;                          // Payload.TableName, as stored in sqlite_schema
  RowImage row;        // Payload.Row; "rowid" for tables without a declared primary key
  QString schemaHash;  // Payload.sh (64 lower-hex chars); empty when the sender sent none

  // The value of column `name` (exact match), or nullptr.
  const Value* find(const QString& name) const;
};

}  // namespace hl
