// -schema-status and -schema-status-cluster (docs/schema-changes.md#command-line): this node's
// schema as the running node sees it, and every node of the schema registry. Each runs on the
// caller's thread with its own database connection or NATS connection, and closes it.
#pragma once

#include <QList>
#include <QString>
#include <QStringList>

#include "harmonylite/config.h"
#include "harmonylite/engine_state.h"
#include "harmonylite/status.h"

namespace hl {

struct LocalSchemaReport {
  QString hash;               // of the watched tables now
  QString previousHash;       // the one the node reports as previous ("" when none)
  QList<SchemaTable> tables;  // watched tables, sorted by name
  QStringList skippedTables;  // virtual, shadow and ignored tables
};

// Reads db_path read-only (nothing is written); the previous hash comes from the node's schema
// history (__harmonylite__schema_hashes) when it has one.
Result<LocalSchemaReport> readLocalSchema(const Config& config);

// Connects to the configured NATS servers, or, with the embedded default, to the running node's
// embedded server (its URL file; or its fixed bind_address), and reads the registry.
// kUnavailable when NATS cannot be reached.
Result<QList<SchemaNode>> readSchemaRegistry(const Config& config);

}  // namespace hl
