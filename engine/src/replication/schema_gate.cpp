#include "replication/schema_gate.h"

#include "schema/catalog.h"

namespace hl {
namespace {

// The names a message may carry for a table: its stored columns, and "rowid" for a table
// replicated by rowid (the key it sends).
bool isCarriable(const TableInfo& t, const QString& name) {
  if (!t.hasDeclaredPk() && name.compare(QLatin1String("rowid"), Qt::CaseInsensitive) == 0)
    return true;
  const ColumnInfo* c = t.column(name);
  return c && !c->isGenerated();
}

bool carries(const RowImage& row, const QString& name) {
  for (const auto& [column, value] : row)
    if (column.compare(name, Qt::CaseInsensitive) == 0) return true;
  return false;
}

}  // namespace

void SchemaGate::setKnownHashes(const QStringList& hashes) {
  m_known = QSet<QString>(hashes.begin(), hashes.end());
}

bool SchemaGate::isWellFormedHash(const QString& hash) {
  if (hash.size() != 64) return false;
  for (QChar c : hash)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

SchemaVerdict SchemaGate::check(Change* change) const {
  const QString& hash = change->schemaHash;
  if (!isWellFormedHash(hash) || hash == m_catalog.schemaHash()) return {};
  const TableInfo* table = m_catalog.find(change->table);
  if (m_known.contains(hash) || hash == m_catalog.previousSchemaHash()) {
    if (!table) return {SchemaFit::kSkipDroppedTable, change->table};
    RowImage kept;
    kept.reserve(change->row.size());
    for (auto& entry : change->row)
      if (isCarriable(*table, entry.first)) kept.append(std::move(entry));
    change->row = std::move(kept);
    return {SchemaFit::kApplyOlder, QString()};
  }
  // A table this node has but does not replicate (ignore_tables, virtual, shadow): no schema
  // change here will let it through, so waiting is pointless; the applier dead-letters it.
  if (!table && m_catalog.skippedTables().contains(change->table)) return {};
  if (!table) return {SchemaFit::kPause, QStringLiteral("no table %1").arg(change->table)};
  for (const auto& [name, value] : change->row) {
    if (!isCarriable(*table, name))
      return {SchemaFit::kPause, QStringLiteral("no column %1 in %2").arg(name, table->name)};
  }
  for (const QString& key : table->keyColumns()) {
    if (!carries(change->row, key))
      return {SchemaFit::kPause,
              QStringLiteral("the key of %1 differs (no %2 in the change)").arg(table->name, key)};
  }
  return {};
}

}  // namespace hl
