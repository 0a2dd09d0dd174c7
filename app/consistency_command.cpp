#include "consistency_command.h"

#include <cstdio>

#include "harmonylite/consistency.h"
#include "harmonylite/logging.h"

namespace hl {
namespace {

void out(const QString& line) {
  std::fputs((line + '\n').toLocal8Bit().constData(), stdout);
}

}  // namespace

bool wantsConsistencyCommand(const CommandLine& cli) {
  return cli.digest;
}

int runConsistencyCommand(const CommandLine&, const Config& config) {
  auto r = readLocalDigest(config);
  if (!r) {
    flushLogs();  // after the log lines before it
    std::fputs((r.status().message() + '\n').toLocal8Bit().constData(), stderr);
    return 1;
  }
  out(QStringLiteral("node id:        %1").arg(config.nodeId));
  out(QStringLiteral("database:       %1").arg(config.dbPath));
  out(QStringLiteral("schema hash:    %1").arg(r->schemaHash));
  QStringList positions;
  for (auto it = r->positions.cbegin(); it != r->positions.cend(); ++it)
    positions << QStringLiteral("%1=%2").arg(it.key()).arg(it.value());
  out(QStringLiteral("applied:        %1")
          .arg(positions.isEmpty() ? QStringLiteral("(nothing yet)") : positions.join(' ')));
  out(QStringLiteral("pending own:    %1").arg(r->pendingChanges));
  out(QStringLiteral("read in:        %1 ms").arg(r->elapsedMs));
  for (const TableDigestReport& t : r->tables)
    out(QStringLiteral("table %1: %2 rows, digest %3").arg(t.table).arg(t.rows).arg(t.digest));
  return 0;
}

}  // namespace hl
