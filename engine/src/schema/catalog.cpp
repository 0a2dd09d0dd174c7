#include "schema/catalog.h"

#include "wire/shard.h"

#include <QCryptographicHash>
#include <QLoggingCategory>

#include <algorithm>

Q_LOGGING_CATEGORY(lcSchema, "hl.schema")

namespace hl {
namespace {

const QString kInternalPrefix = QStringLiteral("__harmonylite__");

bool byteWiseLess(const QString& a, const QString& b) {
  return a.toUtf8() < b.toUtf8();
}

Result<TableInfo> readTable(SqliteDb& db, const QString& name, bool withoutRowid) {
  TableInfo t;
  t.name = name;
  t.quotedName = quoteIdentifier(name);
  t.withoutRowid = withoutRowid;
  auto stmt = db.prepare(QStringLiteral(
      "SELECT name, type, \"notnull\", pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR(stmt->bindText(1, name.toUtf8()));
  QList<QPair<int, QString>> pk;
  SqliteRows rows(*stmt);
  for (const SqliteStmt& row : rows) {
    ColumnInfo c;
    c.name = row.columnText(0);
    c.declaredType = row.columnText(1);
    c.notNull = row.columnInt(2) != 0;
    c.pk = int(row.columnInt(3));
    c.hidden = int(row.columnInt(4));
    if (c.pk > 0) pk.append({c.pk, c.name});
    t.columns.append(c);
  }
  HL_RETURN_IF_ERROR(rows.status().withContext("read columns of " + name));
  std::sort(pk.begin(), pk.end());
  for (const auto& [pos, column] : pk) t.pkColumns << column;
  for (const char* alias : {"rowid", "_rowid_", "oid"}) {
    if (!t.column(QLatin1String(alias))) {
      t.rowidName = QLatin1String(alias);
      break;
    }
  }
  return t;
}

}  // namespace

bool isInternalName(const QString& name) {
  return name.startsWith(kInternalPrefix);
}

const ColumnInfo* TableInfo::column(const QString& name) const {
  for (const ColumnInfo& c : columns)
    if (c.name.compare(name, Qt::CaseInsensitive) == 0) return &c;
  return nullptr;
}

QByteArray rowKeyOf(const TableInfo& t, const RowImage& row, RowImage* key) {
  const QStringList names = t.keyColumns();
  // The change log hands over its key image as it is: exactly the key columns, in key order.
  bool exact = row.size() == names.size();
  for (qsizetype i = 0; exact && i < names.size(); ++i) exact = row[i].first == names[i];
  if (exact) {
    if (key) *key = row;
    return shardKeyBytes(t.name, row);
  }
  RowImage found;
  found.reserve(names.size());
  for (const QString& k : names) {
    for (const auto& [name, value] : row) {
      if (name.compare(k, Qt::CaseInsensitive) == 0) {
        found.append({k, value});
        break;
      }
    }
  }
  if (found.size() != names.size()) return {};
  const QByteArray bytes = shardKeyBytes(t.name, found);
  if (key) *key = std::move(found);
  return bytes;
}

QStringList TableInfo::storedColumns() const {
  QStringList out;
  for (const ColumnInfo& c : columns)
    if (!c.isGenerated()) out << c.name;
  return out;
}

SchemaCatalog::SchemaCatalog(SqliteDb& db, QStringList ignoreTables)
    : m_db(db), m_ignore(std::move(ignoreTables)) {}

Result<bool> SchemaCatalog::refresh() {
  auto version = m_db.queryInt(QStringLiteral("PRAGMA schema_version"));
  if (!version) return version.status();
  if (*version == m_schemaVersion) return false;
  HL_RETURN_IF_ERROR(reload());
  return true;
}

Status SchemaCatalog::reload() {
  auto version = m_db.queryInt(QStringLiteral("PRAGMA schema_version"));
  if (!version) return version.status();
  // table_list names virtual and shadow tables (shadow only for modules SQLite knows).
  auto list = m_db.prepare(QStringLiteral(
      "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main' ORDER BY name"));
  if (!list) return list.status().withContext("list tables");
  struct Entry {
    QString name;
    QString type;
    bool wr;
  };
  QList<Entry> entries;
  QStringList virtualTables;
  SqliteRows rows(*list);
  for (const SqliteStmt& row : rows) {
    Entry e{row.columnText(0), row.columnText(1), row.columnInt(2) != 0};
    if (e.type == QLatin1String("virtual")) virtualTables << e.name;
    entries.append(e);
  }
  HL_RETURN_IF_ERROR(rows.status().withContext("list tables"));
  QList<TableInfo> tables;
  QStringList skipped;
  for (const Entry& e : entries) {
    if (e.type != QLatin1String("table") && e.type != QLatin1String("shadow") &&
        e.type != QLatin1String("virtual"))
      continue;  // views
    if (e.name.startsWith(QLatin1String("sqlite_"), Qt::CaseInsensitive) || isInternalName(e.name))
      continue;
    if (e.type != QLatin1String("table")) {
      skipped << e.name;
      continue;
    }
    // Shadow tables of modules this SQLite does not know are listed as "table": a table named
    // "<virtual table>_<suffix>" is taken for one.
    const bool shadowLike =
        std::any_of(virtualTables.begin(), virtualTables.end(),
                    [&](const QString& v) { return e.name.startsWith(v + '_'); });
    if (shadowLike || m_ignore.contains(e.name)) {
      skipped << e.name;
      continue;
    }
    auto info = readTable(m_db, e.name, e.wr);
    if (!info) return info.status();
    tables.append(*info);
  }
  std::sort(tables.begin(), tables.end(),
            [](const TableInfo& a, const TableInfo& b) { return byteWiseLess(a.name, b.name); });

  m_tables = tables;
  m_index.clear();
  for (qsizetype i = 0; i < m_tables.size(); ++i) m_index.insert(m_tables[i].name, i);
  m_skipped = skipped;
  const QString hash = schemaHashOf(m_tables);
  if (hash != m_hash) {
    if (!m_hash.isEmpty()) {
      m_previousHash = m_hash;
      qCInfo(lcSchema).noquote() << "schema changed:" << m_previousHash.left(12) << "->"
                                 << hash.left(12);
    }
    m_hash = hash;
  }
  m_schemaVersion = *version;
  return Status::ok();
}

const TableInfo* SchemaCatalog::find(const QString& name) const {
  auto it = m_index.constFind(name);
  return it == m_index.constEnd() ? nullptr : &m_tables[*it];
}

QString schemaHashCanonical(const QList<TableInfo>& tables) {
  QList<const TableInfo*> sorted;
  for (const TableInfo& t : tables) sorted << &t;
  std::sort(sorted.begin(), sorted.end(),
            [](const TableInfo* a, const TableInfo* b) { return byteWiseLess(a->name, b->name); });
  QString out;
  for (const TableInfo* t : sorted) {
    QList<const ColumnInfo*> columns;
    for (const ColumnInfo& c : t->columns) columns << &c;
    std::sort(columns.begin(), columns.end(), [](const ColumnInfo* a, const ColumnInfo* b) {
      return byteWiseLess(a->name, b->name);
    });
    out += t->name;
    for (const ColumnInfo* c : columns) {
      // Go prints the type of a column without a declared type as its Go type name.
      const QString type =
          c->declaredType.isEmpty() ? QStringLiteral("*schema.BinaryType") : c->declaredType;
      out += QStringLiteral("|%1:%2:%3:%4")
                 .arg(c->name, type, c->notNull ? QStringLiteral("true") : QStringLiteral("false"),
                      c->pk != 0 ? QStringLiteral("true") : QStringLiteral("false"));
    }
    out += '\n';
  }
  return out;
}

QString schemaHashOf(const QList<TableInfo>& tables) {
  return QString::fromLatin1(
      QCryptographicHash::hash(schemaHashCanonical(tables).toUtf8(), QCryptographicHash::Sha256)
          .toHex());
}

}  // namespace hl
