#include "snapshot_command.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QTimer>

#include <cstdio>

#include "command_output.h"
#include "harmonylite/engine_thread.h"
#include "harmonylite/logging.h"

namespace hl {
namespace {

void out(FILE* f, const QString& line) {
  cli::printLine(f, line);
}

QString orUnknown(const QString& s) {
  return s.isEmpty() ? QStringLiteral("unknown") : s;
}

void printCatalog(const SnapshotStatus& st) {
  out(stdout, QStringLiteral("store: %1").arg(st.store));
  if (st.catalog.isEmpty()) {
    out(stdout, QStringLiteral("no snapshots"));
    return;
  }
  for (const SnapshotInfo& i : st.catalog) {
    QStringList w;
    for (int s = 0; s < i.watermark.size(); ++s)
      w << QStringLiteral("%1:%2").arg(s + 1).arg(i.watermark[s]);
    out(stdout,
        QStringLiteral("%1  %2  node %3  %4 bytes  watermark %5  schema %6  sha256 %7%8%9  "
                       "verified %10  version %11")
            .arg(i.id,
                 i.takenAtMs
                     ? QDateTime::fromMSecsSinceEpoch(i.takenAtMs, Qt::UTC).toString(Qt::ISODate)
                     : QStringLiteral("unknown"),
                 i.nodeId ? QString::number(i.nodeId) : QStringLiteral("unknown"),
                 i.sizeBytes >= 0 ? QString::number(i.sizeBytes) : QStringLiteral("unknown"),
                 w.isEmpty() ? QStringLiteral("unknown") : w.join(' '),
                 orUnknown(i.schemaHash.left(12)), orUnknown(i.sha256.left(12)),
                 i.latest ? QStringLiteral("  latest") : QString(),
                 i.foreign ? QStringLiteral("  (made by another program)") : QString())
            .arg(i.verifiedAtMs == 0 ? QStringLiteral("never")
                 : i.verifiedOk      ? QStringLiteral("ok")
                                     : QStringLiteral("FAILED: ") + i.verifyMessage)
            .arg(orUnknown(i.version)));
  }
}

}  // namespace

bool wantsSnapshotCommand(const CommandLine& cli) {
  return cli.saveSnapshot || cli.restoreSnapshot || cli.verifySnapshot || cli.listSnapshots;
}

int runSnapshotCommand(const CommandLine& cli, Config config) {
  using C = EngineThread::Control;
  C control = C::kRefreshSnapshots;
  QString name;
  if (cli.saveSnapshot) {
    control = C::kSaveSnapshot;
  } else if (cli.restoreSnapshot) {
    control = C::kRestoreSnapshot;
    name = *cli.restoreSnapshot;
  } else if (cli.verifySnapshot) {
    control = C::kVerifySnapshot;
    name = *cli.verifySnapshot;
  }
  if (!config.snapshot.enabled) {
    out(stderr, "harmonylite: snapshots are disabled ([snapshot] enabled = false)");
    return 1;
  }
  // The command decides what happens to the database, not the automatic restore; and the
  // node must not sleep away under it.
  config.snapshot.autoRestore = false;
  config.sleepTimeoutMs = 0;
  EngineThread engine(config);
  int code = 1;
  SnapshotStatus last;
  // After a restore the command stays until this node's own changes after the snapshot are
  // applied again: until then the database is behind what the application wrote through this
  // node, and the application may write meanwhile (docs/snapshots.md#how).
  bool replaying = false;
  QTimer replayDeadline;
  replayDeadline.setSingleShot(true);
  QObject::connect(&replayDeadline, &QTimer::timeout, [&] {
    out(stderr,
        "harmonylite: the restore is done, but this node's own changes after the snapshot were "
        "not all applied again within 60 s; they will be when the node runs");
    QCoreApplication::exit(code);
  });
  QObject::connect(&engine, &EngineThread::statusChanged, [&](const NodeStatus& s) {
    last = s.snapshots;
    if (!replaying || s.snapshots.restoreUnderWay || s.shards.isEmpty()) return;
    for (const ShardStatus& sh : s.shards)
      if (sh.replayOwnUntil > sh.applied) return;
    out(stdout, QStringLiteral("own changes after the snapshot applied again"));
    QCoreApplication::exit(code);
  });
  QObject::connect(&engine, &EngineThread::started,
                   [&] { engine.control(control, cli.force ? 1 : 0, /*confirm=*/true, name); });
  QObject::connect(&engine, &EngineThread::failed, [&](const QString& reason) {
    out(stderr, "harmonylite: the node could not start: " + reason);
    QCoreApplication::exit(1);
  });
  QObject::connect(&engine, &EngineThread::controlDone, [&](C, bool ok, const QString& message) {
    if (!ok) {
      out(stderr, "harmonylite: " + message);
    } else if (control == C::kRefreshSnapshots) {
      printCatalog(last);
    } else {
      out(stdout, message);
    }
    code = ok ? 0 : 1;
    if (ok && control == C::kRestoreSnapshot) {
      replaying = true;  // the next status that shows it caught up ends the command
      replayDeadline.start(60000);
      return;
    }
    QCoreApplication::exit(code);
  });
  engine.start();
  QCoreApplication::exec();
  if (!engine.stop()) {
    out(stderr, "harmonylite: the node did not stop in time");
    flushLogs();  // _Exit skips the exit handlers that would write the waiting lines
    std::fflush(stdout);
    std::_Exit(code == 0 ? 1 : code);
  }
  return code;
}

}  // namespace hl
