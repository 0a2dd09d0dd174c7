#include "harmonylite/schema_diff.h"

#include <algorithm>

namespace hl {
namespace {

const SchemaTable* findTable(const QList<SchemaTable>& tables, const QString& name) {
  for (const SchemaTable& t : tables)
    if (t.name == name) return &t;
  return nullptr;
}

const SchemaColumn* findColumn(const SchemaTable& t, const QString& name) {
  for (const SchemaColumn& c : t.columns)
    if (c.name.compare(name, Qt::CaseInsensitive) == 0) return &c;
  return nullptr;
}

QString describe(const SchemaColumn& c) {
  QString out = c.type.isEmpty() ? QStringLiteral("(no type)") : c.type;
  if (c.notNull) out += QStringLiteral(" NOT NULL");
  if (c.pk > 0) out += QStringLiteral(" key %1").arg(c.pk);
  return out;
}

void diffTable(const SchemaTable& here, const SchemaTable& there, QList<SchemaDifference>* out) {
  using Kind = SchemaDifference::Kind;
  for (const SchemaColumn& h : here.columns) {
    const SchemaColumn* t = findColumn(there, h.name);
    if (!t) {
      out->append({Kind::ColumnMissingThere, here.name, h.name, describe(h), QStringLiteral("-")});
      continue;
    }
    if (h.type != t->type)
      out->append({Kind::TypeChanged, here.name, h.name, describe(h), describe(*t)});
    else if (h.notNull != t->notNull)
      out->append({Kind::NotNullChanged, here.name, h.name, describe(h), describe(*t)});
    else if (h.pk != t->pk)
      out->append({Kind::KeyChanged, here.name, h.name, describe(h), describe(*t)});
  }
  for (const SchemaColumn& t : there.columns) {
    if (!findColumn(here, t.name))
      out->append({Kind::ColumnMissingHere, here.name, t.name, QStringLiteral("-"), describe(t)});
  }
}

}  // namespace

QList<SchemaDifference> diffSchemas(const QList<SchemaTable>& here,
                                    const QList<SchemaTable>& there) {
  using Kind = SchemaDifference::Kind;
  QList<SchemaDifference> out;
  for (const SchemaTable& h : here) {
    if (const SchemaTable* t = findTable(there, h.name))
      diffTable(h, *t, &out);
    else
      out.append({Kind::TableMissingThere, h.name, QString(),
                  QStringLiteral("%1 columns").arg(h.columns.size()), QStringLiteral("-")});
  }
  for (const SchemaTable& t : there) {
    if (!findTable(here, t.name))
      out.append({Kind::TableMissingHere, t.name, QString(), QStringLiteral("-"),
                  QStringLiteral("%1 columns").arg(t.columns.size())});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const SchemaDifference& a, const SchemaDifference& b) {
                     const QByteArray ta = a.table.toUtf8(), tb = b.table.toUtf8();
                     if (ta != tb) return ta < tb;
                     return a.column.toUtf8() < b.column.toUtf8();
                   });
  return out;
}

QString differenceKindText(SchemaDifference::Kind kind) {
  using Kind = SchemaDifference::Kind;
  switch (kind) {
    case Kind::TableMissingHere:
      return QStringLiteral("table missing here");
    case Kind::TableMissingThere:
      return QStringLiteral("table missing there");
    case Kind::ColumnMissingHere:
      return QStringLiteral("column missing here");
    case Kind::ColumnMissingThere:
      return QStringLiteral("column missing there");
    case Kind::TypeChanged:
      return QStringLiteral("type changed");
    case Kind::NotNullChanged:
      return QStringLiteral("NOT NULL changed");
    case Kind::KeyChanged:
      return QStringLiteral("key changed");
  }
  return {};
}

}  // namespace hl
