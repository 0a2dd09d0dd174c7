#include "consistency_command.h"

#include <QElapsedTimer>
#include <QThread>

#include <cstdio>

#include "command_output.h"
#include "harmonylite/consistency.h"
#include "harmonylite/logging.h"

namespace hl {
namespace {

using cli::err;
using cli::out;

QString positionsText(const QMap<QString, quint64>& p) {
  QStringList out;
  for (auto it = p.cbegin(); it != p.cend(); ++it)
    out << QStringLiteral("%1=%2").arg(it.key()).arg(it.value());
  return out.isEmpty() ? QStringLiteral("(nothing yet)") : out.join(' ');
}

void printCheck(const ClusterCheckReport& r) {
  out(QStringLiteral("check %1: %2%3")
          .arg(r.id, r.verdict.toUpper(), r.reason.isEmpty() ? QString() : " - " + r.reason));
  if (!r.target.isEmpty()) out(QStringLiteral("positions: %1").arg(positionsText(r.target)));
  for (const NodeCheck& n : r.nodes)
    out(QStringLiteral("node %1: %2%3")
            .arg(n.node)
            .arg(n.state)
            .arg(n.state == "held" ? QStringLiteral(" (applier held %1 ms, digest %2 ms)")
                                         .arg(n.heldMs)
                                         .arg(n.digestMs)
                                   : " - " + n.reason));
  for (const TableCheck& t : r.tables) {
    if (t.agree) {
      out(QStringLiteral("table %1: agree (%2)").arg(t.table, t.digests.first()));
      continue;
    }
    out(QStringLiteral("table %1: DIFFERS").arg(t.table));
    for (auto it = t.digests.cbegin(); it != t.digests.cend(); ++it)
      out(QStringLiteral("  node %1: %2").arg(it.key()).arg(it.value()));
    if (!t.locateError.isEmpty()) out(QStringLiteral("  rows not located: %1").arg(t.locateError));
    for (const DifferingRow& row : t.rows) {
      out(QStringLiteral("  row %1:").arg(row.key));
      for (auto it = t.digests.cbegin(); it != t.digests.cend(); ++it)
        out(QStringLiteral("    node %1: %2")
                .arg(it.key())
                .arg(row.values.contains(it.key()) ? row.values.value(it.key())
                                                   : QStringLiteral("(no such row)")));
    }
    if (t.rowsTruncated) out(QStringLiteral("  (more rows differ than listed)"));
  }
  for (const RepairResult& p : r.repairs)
    out(p.error.isEmpty()
            ? QStringLiteral("repair %1: node %2 published %3 row(s) again and %4 delete(s)")
                  .arg(p.table)
                  .arg(p.node)
                  .arg(p.republished)
                  .arg(p.deleted)
            : QStringLiteral("repair %1: FAILED on node %2: %3")
                  .arg(p.table)
                  .arg(p.node)
                  .arg(p.error));
  out(QStringLiteral("messages: %1, took %2 ms, %3 attempt(s)")
          .arg(r.messages)
          .arg(r.elapsedMs)
          .arg(r.attempts));
}

int exitCodeOf(const ClusterCheckReport& r) {
  return r.verdict == "agree" ? 0 : r.verdict == "differ" ? 1 : 3;
}

// -check-consistency [-repair-from N]: 0 agree, 1 differ, 2 NATS unreachable, 3 not comparable.
int runClusterCheck(const CommandLine& cli, const Config& config) {
  CheckOptions o;
  o.expectNodes = cli.expectNodes;
  o.repairFrom = cli.repairFrom;
  auto r = checkClusterConsistency(config, o);
  if (!r) {
    err("harmonylite: " + r.status().message());
    return 2;
  }
  printCheck(*r);
  if (r->repairs.isEmpty()) return exitCodeOf(*r);
  for (const RepairResult& p : r->repairs)
    if (!p.error.isEmpty()) return 1;
  // The repair travels as ordinary changes: check again until they are applied everywhere.
  o.repairFrom = 0;
  if (o.expectNodes == 0) o.expectNodes = int(r->nodes.size());
  QElapsedTimer t;
  t.start();
  for (;;) {
    QThread::msleep(500);
    auto again = checkClusterConsistency(config, o);
    if (!again) {
      err("harmonylite: " + again.status().message());
      return 2;
    }
    if (again->verdict == "agree" || t.elapsed() > 30000) {
      out(QStringLiteral("after the repair:"));
      printCheck(*again);
      return exitCodeOf(*again);
    }
  }
}

}  // namespace

bool wantsConsistencyCommand(const CommandLine& cli) {
  return cli.digest || cli.checkConsistency || cli.repairFrom != 0;
}

int runConsistencyCommand(const CommandLine& cli, const Config& config) {
  if (cli.checkConsistency || cli.repairFrom != 0) return runClusterCheck(cli, config);
  auto r = readLocalDigest(config);
  if (!r) {
    err(r.status().message());
    return 1;
  }
  out(QStringLiteral("node id:        %1").arg(config.nodeId));
  out(QStringLiteral("database:       %1").arg(config.dbPath));
  out(QStringLiteral("schema hash:    %1").arg(r->schemaHash));
  out(QStringLiteral("applied:        %1").arg(positionsText(r->positions)));
  out(QStringLiteral("pending own:    %1").arg(r->pendingChanges));
  out(QStringLiteral("read in:        %1 ms").arg(r->elapsedMs));
  for (const TableDigestReport& t : r->tables)
    out(QStringLiteral("table %1: %2 rows, digest %3").arg(t.table).arg(t.rows).arg(t.digest));
  return 0;
}

}  // namespace hl
