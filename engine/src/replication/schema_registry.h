// The schema registry (docs/schema-changes.md#registry): KV bucket harmonylite-schema-registry
// (file storage, max age 5 minutes, history 1), key node-<id>, one JSON entry per node with Go's
// fields (node_id, schema_hash, previous_hash omitted when empty, harmonylite_version,
// updated_at in RFC 3339) plus `tables`, which Go ignores: every watched table with its columns
// (name, type, not_null, pk), so that any node can show what differs.
//
// The JSON functions are pure. SchemaRegistry talks to the bucket on one thread at a time (the
// engine's request thread; the -schema-status-cluster command's own thread); every request
// blocks for at most the JetStream context's wait. It does not own the jsCtx.
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

#include <functional>

#include "harmonylite/engine_state.h"
#include "harmonylite/status.h"
#include "nats/nats_handles.h"
#include "schema/catalog.h"

namespace hl {

inline const QString kSchemaRegistryBucket = QStringLiteral("harmonylite-schema-registry");
inline constexpr int64_t kSchemaRegistryMaxAgeMs = 5 * 60 * 1000;

// The registry's key of a node: "node-<id>".
QString registryKey(uint64_t nodeId);
// JSON of an entry; `updatedAtMs` is written as RFC 3339 UTC with milliseconds.
QByteArray encodeRegistryEntry(const SchemaNode& node);
// Reads an entry written by us or by Go (which has no `tables`: hasTables false). A value
// that is not a JSON object, or lacks node_id or schema_hash, is an error naming the field.
Result<SchemaNode> decodeRegistryEntry(const QByteArray& json);
// The catalog's watched tables as the registry lists them, sorted by name.
QList<SchemaTable> schemaTablesOf(const QList<TableInfo>& tables);
// True when every entry has the same schema hash (and there is at least one).
bool registryAgrees(const QList<SchemaNode>& nodes);

class SchemaRegistry {
 public:
  // `replicas` is used when the bucket has to be created.
  SchemaRegistry(jsCtx* js, int replicas);
  ~SchemaRegistry();

  // Writes `self` under its key (creating the bucket when missing).
  Status put(const SchemaNode& self);
  // Every entry, sorted by node id. Entries that cannot be read are skipped and counted in
  // `unreadable` (when given), never fatal. `cancelled` (when given) is asked before each
  // entry: true ends the reading there (each entry may wait for its request's timeout).
  Result<QList<SchemaNode>> readAll(int* unreadable = nullptr,
                                    const std::function<bool()>& cancelled = {});

 private:
  Status open(bool create);

  jsCtx* m_js;
  int m_replicas;
  KvStorePtr m_kv;
};

}  // namespace hl
