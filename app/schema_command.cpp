#include "schema_command.h"

#include <QDateTime>

#include <cstdio>

#include "command_output.h"
#include "harmonylite/logging.h"
#include "harmonylite/schema_diff.h"
#include "harmonylite/schema_status.h"
#include "harmonylite/version.h"

namespace hl {
namespace {

using cli::err;
using cli::out;

QString orNone(const QString& s) {
  return s.isEmpty() ? QStringLiteral("(none)") : s;
}

QString columnText(const SchemaColumn& c) {
  QString t = c.name + ' ' + (c.type.isEmpty() ? QStringLiteral("(no type)") : c.type);
  if (c.notNull) t += QStringLiteral(" NOT NULL");
  if (c.pk > 0) t += QStringLiteral(" [key %1]").arg(c.pk);
  return t;
}

int localStatus(const Config& config) {
  auto r = readLocalSchema(config);
  if (!r) {
    err(r.status().message());
    return 1;
  }
  out(QStringLiteral("node id:        %1").arg(config.nodeId));
  out(QStringLiteral("version:        %1").arg(versionInfo().version));
  out(QStringLiteral("database:       %1").arg(config.dbPath));
  out(QStringLiteral("schema hash:    %1").arg(orNone(r->hash)));
  out(QStringLiteral("previous hash:  %1").arg(orNone(r->previousHash)));
  out(QStringLiteral("watched tables: %1").arg(r->tables.size()));
  for (const SchemaTable& t : r->tables) {
    QStringList columns;
    for (const SchemaColumn& c : t.columns) columns << columnText(c);
    out(QStringLiteral("  %1 (%2)").arg(t.name, columns.join(QStringLiteral(", "))));
  }
  if (!r->skippedTables.isEmpty())
    out(QStringLiteral("not replicated: %1").arg(r->skippedTables.join(QStringLiteral(", "))));
  return 0;
}

int clusterStatus(const Config& config) {
  auto nodes = readSchemaRegistry(config);
  if (!nodes) {
    err(nodes.status().message());
    return nodes.status().code() == Status::Code::kUnavailable ? 2 : 1;
  }
  if (nodes->isEmpty()) {
    err(QStringLiteral(
        "the schema registry has no entry (no node wrote one in the last 5 minutes)"));
    return 1;
  }
  out(QStringLiteral("%1  %2  %3  %4  %5")
          .arg(QStringLiteral("node"), -6)
          .arg(QStringLiteral("schema hash"), -12)
          .arg(QStringLiteral("previous"), -12)
          .arg(QStringLiteral("version"), -14)
          .arg(QStringLiteral("updated")));
  QMap<QString, QList<uint64_t>> byHash;
  for (const SchemaNode& n : *nodes) {
    byHash[n.schemaHash] << n.nodeId;
    out(QStringLiteral("%1  %2  %3  %4  %5")
            .arg(QString::number(n.nodeId), -6)
            .arg(n.schemaHash.left(12), -12)
            .arg(n.previousHash.isEmpty() ? QStringLiteral("-") : n.previousHash.left(12), -12)
            .arg(n.version.isEmpty() ? QStringLiteral("-") : n.version, -14)
            .arg(n.updatedAtMs > 0
                     ? QDateTime::fromMSecsSinceEpoch(n.updatedAtMs, Qt::UTC).toString(Qt::ISODate)
                     : QStringLiteral("-")));
  }
  if (byHash.size() == 1) {
    out(QStringLiteral("all %1 node(s) agree on schema %2")
            .arg(nodes->size())
            .arg(byHash.firstKey()));
    return 0;
  }
  QStringList groups;
  for (auto it = byHash.cbegin(); it != byHash.cend(); ++it) {
    QStringList ids;
    for (uint64_t id : it.value()) ids << QString::number(id);
    groups << QStringLiteral("%1: node %2").arg(it.key().left(12), ids.join(QStringLiteral(", ")));
  }
  out(QStringLiteral("the nodes disagree (%1 schemas): %2")
          .arg(byHash.size())
          .arg(groups.join(QStringLiteral("; "))));
  // What differs, between the first node and each node of another schema that lists columns.
  const SchemaNode& first = nodes->first();
  for (const SchemaNode& n : *nodes) {
    if (n.schemaHash == first.schemaHash || !n.hasTables || !first.hasTables) continue;
    for (const SchemaDifference& d : diffSchemas(first.tables, n.tables))
      out(QStringLiteral("  node %1 vs node %2: %3%4: %5 (node %1: %6, node %2: %7)")
              .arg(first.nodeId)
              .arg(n.nodeId)
              .arg(d.table, d.column.isEmpty() ? QString() : '.' + d.column,
                   differenceKindText(d.kind), d.here, d.there));
  }
  return 1;
}

}  // namespace

bool wantsSchemaCommand(const CommandLine& cli) {
  return cli.schemaStatus || cli.schemaStatusCluster;
}

int runSchemaCommand(const CommandLine& cli, const Config& config) {
  return cli.schemaStatus ? localStatus(config) : clusterStatus(config);
}

}  // namespace hl
