// SchemaCatalog: the replicated ("watched") tables of the application's database and their
// columns and keys, re-read cheaply when PRAGMA schema_version moves (docs/capture.md#which-tables,
// docs/wire-format.md#schema-hash, docs/capture.md).
//
// Watched tables: ordinary tables, except sqlite_* and __harmonylite__* tables, virtual tables
// and their shadow tables, and the tables of ignore_tables (names compared exactly).
// Thread: the engine thread (it uses the engine's SqliteDb). It does not own the connection.
#pragma once

#include <QHash>
#include <QList>
#include <QString>
#include <QStringList>

#include "harmonylite/status.h"
#include "sqlite/sqlite_db.h"
#include "wire/change.h"

namespace hl {

struct ColumnInfo {
  QString name;          // as declared
  QString declaredType;  // as written, case kept; "" when none
  bool notNull = false;
  int pk = 0;      // 1-based position in the primary key, 0 = not part of it
  int hidden = 0;  // pragma_table_xinfo: 0 normal, 2 virtual generated, 3 stored generated
  bool isGenerated() const { return hidden == 2 || hidden == 3; }
};

struct TableInfo {
  QString name;
  QString quotedName;         // quoteIdentifier(name), for generated SQL
  QList<ColumnInfo> columns;  // in declaration order
  QStringList pkColumns;      // declared primary key in key order; empty: replicated by rowid
  bool withoutRowid = false;
  QString rowidName;  // how to name the rowid: rowid, _rowid_ or oid (not a column's name)

  bool hasDeclaredPk() const { return !pkColumns.isEmpty(); }
  // The key the change log stores and messages carry: the PK columns, or {"rowid"}.
  QStringList keyColumns() const { return hasDeclaredPk() ? pkColumns : QStringList{"rowid"}; }
  // The column named `name` (SQLite compares names case-insensitively), or nullptr.
  const ColumnInfo* column(const QString& name) const;
  // Columns whose values are replicated: every column except generated ones.
  QStringList storedColumns() const;
};

class SchemaCatalog {
 public:
  SchemaCatalog(SqliteDb& db, QStringList ignoreTables);

  // Re-reads the schema when PRAGMA schema_version changed (or on the first call).
  // Returns true when it re-read.
  Result<bool> refresh();
  // Re-reads unconditionally.
  Status reload();

  const QList<TableInfo>& tables() const { return m_tables; }
  // A watched table by exact name, or nullptr. Names from the network are looked up here
  // before any SQL is built.
  const TableInfo* find(const QString& name) const;
  // Tables skipped because they are virtual, shadow or ignored (for logs and status).
  const QStringList& skippedTables() const { return m_skipped; }

  // docs/wire-format.md#schema-hash hash of the watched tables, and the hash before the last change
  // ("" at first).
  const QString& schemaHash() const { return m_hash; }
  const QString& previousSchemaHash() const { return m_previousHash; }
  // The previous hash as the state store remembers it across restarts
  // (ReplicationState::noteSchemaHash).
  void setPreviousSchemaHash(const QString& hash) { m_previousHash = hash; }
  int64_t schemaVersion() const { return m_schemaVersion; }

 private:
  SqliteDb& m_db;
  QStringList m_ignore;
  QList<TableInfo> m_tables;
  QHash<QString, qsizetype> m_index;
  QStringList m_skipped;
  QString m_hash;
  QString m_previousHash;
  int64_t m_schemaVersion = -1;
};

// docs/wire-format.md#schema-hash: the canonical text hashed (exposed for tests and -schema-status)
// and its SHA-256.
QString schemaHashCanonical(const QList<TableInfo>& tables);
QString schemaHashOf(const QList<TableInfo>& tables);

// A row's identity across nodes: the shard-key bytes of its table and key values
// (docs/wire-format.md#shard). The publisher routes a change by it; the own-change bookkeeping
// and the convergence rule compare rows by it. `row` holds at least the key columns (names
// matched case-insensitively, as SQLite does); `key`, when given, receives them in key order.
// Empty when a key column is missing.
QByteArray rowKeyOf(const TableInfo& table, const RowImage& row, RowImage* key = nullptr);

// True for names the engine owns: they start with "__harmonylite__".
bool isInternalName(const QString& name);

}  // namespace hl
