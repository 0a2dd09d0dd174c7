#include "replication/applier.h"

#include "cdc/change_log.h"
#include "sqlite/sqlite_value.h"

namespace hl {
namespace {

// A constraint failure or a value the table refuses is the message's fault: poison.
Status poisonIfData(const Status& s, const QString& context) {
  if (s.isOk()) return s;
  if (s.code() == Status::Code::kInvalidArgument)
    return Status::poison(context + ": " + s.message());
  return s.withContext(context);
}

}  // namespace

Applier::Applier(SqliteDb& db, SchemaCatalog& catalog, ChangeLog& log)
    : m_db(db), m_catalog(catalog), m_log(log) {}

Result<SqliteStmt*> Applier::statement(const QString& key,
                                       const std::function<QString()>& makeSql) {
  if (m_statementsVersion != m_catalog.schemaVersion()) {
    m_statements.clear();
    m_statementsVersion = m_catalog.schemaVersion();
  }
  auto it = m_statements.find(key);
  if (it == m_statements.end()) {
    auto stmt = m_db.prepare(makeSql());  // the SQL is built only the first time
    if (!stmt) return stmt.status();
    it = m_statements.emplace(key, std::move(*stmt)).first;
  }
  it->second.reset();
  return &it->second;
}

Result<Applier::Resolved> Applier::resolve(const Change& change) const {
  const TableInfo* t = m_catalog.find(change.table);
  if (!t && m_catalog.skippedTables().contains(change.table))
    return Status::poison(
        QStringLiteral("table \"%1\" is not replicated on this node (ignore_tables, or a virtual "
                       "or shadow table)")
            .arg(change.table));
  if (!t) return Status::poison(QStringLiteral("unknown table \"%1\"").arg(change.table));
  Resolved r;
  r.table = t;
  r.keyNames = t->keyColumns();
  r.keyValues = QList<const Value*>(r.keyNames.size(), nullptr);
  for (qsizetype i = 0; i < change.row.size(); ++i) {
    const QString& name = change.row[i].first;
    const Value& value = change.row[i].second;
    for (qsizetype j = 0; j < i; ++j) {  // rows have few columns: no set needed
      if (change.row[j].first.compare(name, Qt::CaseInsensitive) == 0)
        return Status::poison(QStringLiteral("column \"%1\" appears twice").arg(name));
    }
    if (!t->hasDeclaredPk() && name.compare(QLatin1String("rowid"), Qt::CaseInsensitive) == 0) {
      r.keyValues[0] = &value;
      continue;
    }
    const ColumnInfo* c = t->column(name);
    if (!c)
      return Status::poison(
          QStringLiteral("unknown column \"%1\" in table \"%2\"").arg(name, t->name));
    if (c->isGenerated()) continue;  // computed locally
    if (const qsizetype k = r.keyNames.indexOf(c->name); k >= 0) {
      r.keyValues[k] = &value;
    } else {
      r.columns << c->name;
      r.values << &value;
    }
  }
  for (qsizetype i = 0; i < r.keyNames.size(); ++i) {
    if (!r.keyValues[i])
      return Status::poison(
          QStringLiteral("key column \"%1\" of table \"%2\" missing").arg(r.keyNames[i], t->name));
  }
  return r;
}

Status Applier::applyOne(const Change& change) {
  auto resolved = resolve(change);
  if (!resolved) return resolved.status();
  if (change.type == ChangeType::kDelete) return deleteRow(*resolved);
  return resolved->table->hasDeclaredPk() ? upsertByKey(*resolved) : upsertByRowid(*resolved);
}

Status Applier::deleteRow(const Resolved& r) {
  const TableInfo* t = r.table;
  auto stmt = statement("d\x1f" + t->name, [&] {
    QStringList where;
    for (qsizetype i = 0; i < r.keyNames.size(); ++i)
      where << QStringLiteral("%1 IS ?%2")
                   .arg(t->hasDeclaredPk() ? quoteIdentifier(r.keyNames[i]) : t->rowidName)
                   .arg(i + 1);
    return QStringLiteral("DELETE FROM %1 WHERE %2").arg(t->quotedName, where.join(" AND "));
  });
  if (!stmt) return stmt.status();
  for (qsizetype i = 0; i < r.keyNames.size(); ++i)
    HL_RETURN_IF_ERROR(bindValue(**stmt, int(i + 1), *r.keyValues[i]));
  return poisonIfData((*stmt)->run(), "delete from " + t->name);
}

Status Applier::upsertByKey(const Resolved& r) {
  const TableInfo* t = r.table;
  auto stmt = statement("u\x1f" + t->name + '\x1e' + r.columns.join(QChar(0x1f)), [&] {
    QStringList names, params, sets, conflict;
    int n = 0;
    for (const QString& k : r.keyNames) {
      names << quoteIdentifier(k);
      params << QStringLiteral("?%1").arg(++n);
      conflict << quoteIdentifier(k);
    }
    for (const QString& c : r.columns) {
      names << quoteIdentifier(c);
      params << QStringLiteral("?%1").arg(++n);
      sets << QStringLiteral("%1 = excluded.%1").arg(quoteIdentifier(c));
    }
    const QString action = sets.isEmpty() ? QStringLiteral("NOTHING")
                                          : QStringLiteral("UPDATE SET ") + sets.join(", ");
    return QStringLiteral("INSERT INTO %1(%2) VALUES(%3) ON CONFLICT(%4) DO %5")
        .arg(t->quotedName, names.join(','), params.join(','), conflict.join(','), action);
  });
  if (!stmt) return stmt.status();
  int i = 1;
  for (const Value* v : r.keyValues) HL_RETURN_IF_ERROR(bindValue(**stmt, i++, *v));
  for (const Value* v : r.values) HL_RETURN_IF_ERROR(bindValue(**stmt, i++, *v));
  return poisonIfData((*stmt)->run(), "upsert into " + t->name);
}

// A table without a declared key: update the row with that rowid if it exists, else insert it
// with that rowid.
Status Applier::upsertByRowid(const Resolved& r) {
  const TableInfo* t = r.table;
  const QString columnKey = r.columns.join(QChar(0x1f));
  if (!r.columns.isEmpty()) {
    auto upd = statement("r\x1f" + t->name + '\x1e' + columnKey, [&] {
      QStringList sets;
      for (int i = 0; i < r.columns.size(); ++i)
        sets << QStringLiteral("%1 = ?%2").arg(quoteIdentifier(r.columns[i])).arg(i + 2);
      return QStringLiteral("UPDATE %1 SET %2 WHERE %3 = ?1")
          .arg(t->quotedName, sets.join(", "), t->rowidName);
    });
    if (!upd) return upd.status();
    HL_RETURN_IF_ERROR(bindValue(**upd, 1, *r.keyValues[0]));
    for (int i = 0; i < r.values.size(); ++i)
      HL_RETURN_IF_ERROR(bindValue(**upd, i + 2, *r.values[i]));
    HL_RETURN_IF_ERROR(poisonIfData((*upd)->run(), "update " + t->name));
    if (m_db.changes() > 0) return Status::ok();
  }
  auto ins = statement("i\x1f" + t->name + '\x1e' + columnKey, [&] {
    QStringList names{t->rowidName}, params{QStringLiteral("?1")};
    for (int i = 0; i < r.columns.size(); ++i) {
      names << quoteIdentifier(r.columns[i]);
      params << QStringLiteral("?%1").arg(i + 2);
    }
    return QStringLiteral("INSERT OR IGNORE INTO %1(%2) VALUES(%3)")
        .arg(t->quotedName, names.join(','), params.join(','));
  });
  if (!ins) return ins.status();
  HL_RETURN_IF_ERROR(bindValue(**ins, 1, *r.keyValues[0]));
  for (int i = 0; i < r.values.size(); ++i)
    HL_RETURN_IF_ERROR(bindValue(**ins, i + 2, *r.values[i]));
  return poisonIfData((*ins)->run(), "insert into " + t->name);
}

Result<Applier::BatchResult> Applier::applyAll(const QList<Change>& changes,
                                               const QList<bool>& apply,
                                               const QHash<qsizetype, Status>& poisoned) {
  // Each change is one SQL statement (the rowid path runs a second only when the first changed
  // nothing), and SQLite undoes a failed statement by itself, triggers included: a poison
  // change leaves no trace and needs no savepoint.
  auto echo = m_log.echoMark();
  if (!echo) return echo.status().withContext("echo suppression");
  BatchResult result;
  for (qsizetype i = 0; i < changes.size(); ++i) {
    if (const auto p = poisoned.constFind(i); p != poisoned.constEnd()) {
      result.outcomes.append(*p);
      ++result.poisoned;
      continue;
    }
    if (!apply.value(i, true)) {
      result.outcomes.append(Status::ok());
      continue;
    }
    const Status s = applyOne(changes[i]);
    if (s.code() == Status::Code::kPoison) {
      if (sqlite3_get_autocommit(m_db.handle())) {  // the whole transaction was rolled back
        result.outcomes.append(s);
        result.endedTransactionAt = i;
        return result;
      }
      ++result.poisoned;
    } else if (!s.isOk()) {
      return s;
    } else {
      ++result.applied;
    }
    result.outcomes.append(s);
  }
  HL_RETURN_IF_ERROR(m_log.dropEcho(*echo).withContext("echo suppression"));
  return result;
}

}  // namespace hl
