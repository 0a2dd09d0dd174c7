// Schema differences between two nodes, from the column lists the schema registry carries
// (docs/schema-changes.md#comparing-nodes). Pure functions over value types; any thread.
#pragma once

#include <QList>
#include <QString>

#include "harmonylite/engine_state.h"

namespace hl {

struct SchemaDifference {
  enum class Kind {
    TableMissingHere,   // the other node has the table, this one does not
    TableMissingThere,  // this node has the table, the other does not
    ColumnMissingHere,
    ColumnMissingThere,
    TypeChanged,     // declared type differs
    NotNullChanged,  // NOT NULL differs
    KeyChanged,      // position in the primary key differs
  };
  Kind kind = Kind::TableMissingHere;
  QString table;
  QString column;  // "" for a whole table
  QString here;    // this node's side in words ("TEXT NOT NULL", "key 1", "-")
  QString there;   // the other node's side
};

// Every difference, sorted by table then column (byte-wise); empty when they agree. Column
// names compare case-insensitively, as SQLite's do; table names exactly.
QList<SchemaDifference> diffSchemas(const QList<SchemaTable>& here,
                                    const QList<SchemaTable>& there);
// "column missing here", "type changed", ...: the kind in words, for screens and the CLI.
QString differenceKindText(SchemaDifference::Kind kind);

}  // namespace hl
