#include "schema/row_reader.h"

#include "sqlite/sqlite_value.h"

namespace hl {

RowReader::RowReader(SqliteDb& db, const SchemaCatalog& catalog) : m_db(db), m_catalog(catalog) {}

Result<SqliteStmt*> RowReader::statement(const TableInfo& t) {
  if (m_statementsVersion != m_catalog.schemaVersion()) {
    m_statements.clear();
    m_statementsVersion = m_catalog.schemaVersion();
  }
  auto it = m_statements.find(t.name);
  if (it != m_statements.end()) return &it->second;
  QStringList columns;
  for (const QString& c : t.storedColumns()) columns << quoteIdentifier(c);
  QStringList where;
  if (t.hasDeclaredPk()) {
    for (int i = 0; i < t.pkColumns.size(); ++i)
      where << QStringLiteral("%1 IS ?%2").arg(quoteIdentifier(t.pkColumns[i])).arg(i + 1);
  } else {
    columns << t.rowidName;
    where << t.rowidName + " = ?1";
  }
  auto stmt = m_db.prepare(QStringLiteral("SELECT %1 FROM %2 WHERE %3")
                               .arg(columns.join(','), t.quotedName, where.join(" AND ")));
  if (!stmt) return stmt.status().withContext("read row of " + t.name);
  it = m_statements.emplace(t.name, std::move(*stmt)).first;
  return &it->second;
}

Result<std::optional<RowImage>> RowReader::read(const TableInfo& t, const RowImage& key) {
  auto stmt = statement(t);
  if (!stmt) return stmt.status();
  SqliteStmt& s = **stmt;
  for (int i = 0; i < key.size(); ++i) HL_RETURN_IF_ERROR(bindValue(s, i + 1, key[i].second));
  SqliteRows rows(s);
  std::optional<RowImage> found;
  for (const SqliteStmt& r : rows) {
    const QStringList stored = t.storedColumns();
    RowImage row;
    row.reserve(stored.size() + 1);
    for (int i = 0; i < stored.size(); ++i) row.append({stored[i], readValue(r, i)});
    if (!t.hasDeclaredPk()) row.append({QStringLiteral("rowid"), readValue(r, int(stored.size()))});
    found = std::move(row);
    break;
  }
  HL_RETURN_IF_ERROR(rows.status().withContext("read row of " + t.name));
  return found;
}

}  // namespace hl
