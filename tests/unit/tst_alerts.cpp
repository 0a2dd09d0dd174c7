// The alert rules (observe/alert_rules.h) on plain statuses with a clock the test moves, and the
// history file (observe/history_store.h, harmonylite/history.h) on a real SQLite file:
// docs/alerts.md.
#include <QtTest>

#include "harmonylite/history.h"
#include "observe/alert_rules.h"
#include "observe/history_store.h"

using namespace hl;

namespace {

constexpr qint64 kT0 = 1'800'000'000'000;  // a fixed epoch ms

ShardStatus shard(int n, ShardState state = ShardState::Running) {
  ShardStatus s;
  s.shard = n;
  s.state = state;
  return s;
}

NodeStatus quietNode() {
  NodeStatus s;
  s.nodeId = 7;
  s.dbConnected = true;
  s.natsConnected = true;
  s.cdcInstalled = true;
  s.shards = {shard(1), shard(2)};
  s.snapshots.enabled = true;
  s.snapshots.catalogReadMs = kT0;
  SnapshotInfo fresh;
  fresh.takenAtMs = kT0;
  s.snapshots.catalog = {fresh};
  return s;
}

AlertInputs at(qint64 ms) {
  AlertInputs in;
  in.nowMs = ms;
  in.startedMs = kT0;
  in.diskFreePercent = 50;
  in.diskPath = "/data";
  return in;
}

const AlertInfo* find(const AlertRules& r, const QString& rule) {
  for (const AlertInfo& a : r.alerts())
    if (a.rule == rule) return &a;
  return nullptr;
}

QStringList names(const QList<AlertInfo>& list) {
  QStringList out;
  for (const AlertInfo& a : list) out << (a.rule + (a.firing ? ":fired" : ":resolved"));
  return out;
}

}  // namespace

class TestAlerts : public QObject {
  Q_OBJECT
 private slots:
  // Each rule, made true on a quiet node: it waits hold_seconds (or fires at once, for the
  // rules whose figure is a duration), carries its value and message, and resolves at the first
  // evaluation where its condition is gone.
  void eachRuleFiresAndResolves_data() {
    QTest::addColumn<QString>("rule");
    QTest::addColumn<bool>("holds");
    QTest::addColumn<QString>("severity");
    QTest::addColumn<QString>("message");  // a part of it
    QTest::newRow("lag_seconds") << "lag_seconds" << true << "warning"
                                 << "shard 2 lags 75 s behind (alert at 60 s)";
    QTest::newRow("lag_messages") << "lag_messages" << true << "warning"
                                  << "12000 messages";
    QTest::newRow("snapshot_age") << "snapshot_age_seconds" << false << "warning"
                                  << "the newest snapshot is 3 d old";
    QTest::newRow("dead_letters") << "dead_letters" << true << "warning"
                                  << "2 dead letter(s)";
    QTest::newRow("conflicts") << "conflicts_per_minute" << true << "warning"
                               << "150 conflicts in the last minute";
    QTest::newRow("nats") << "nats_disconnected_seconds" << false << "critical"
                          << "NATS disconnected for 40 s";
    QTest::newRow("disk") << "disk_free_percent" << true << "critical"
                          << "4.5% free";
    QTest::newRow("stopped") << "shard_stopped" << true << "critical"
                             << "shard 2 stopped: boom";
    QTest::newRow("restore") << "shard_needs_restore" << true << "critical"
                             << "shard 1 needs a restore";
    QTest::newRow("schema") << "shard_schema_paused" << true << "warning"
                            << "paused by a schema difference: no column email";
    QTest::newRow("database") << "database" << true << "critical"
                              << "is not open";
    QTest::newRow("capture") << "capture" << true << "critical"
                             << "not installed";
    QTest::newRow("duplicate") << "duplicate_node_id" << false << "critical"
                               << "another process uses node id 7";
  }
  void eachRuleFiresAndResolves() {
    QFETCH(QString, rule);
    QFETCH(bool, holds);
    QFETCH(QString, severity);
    QFETCH(QString, message);
    AlertsConfig config;
    config.holdSeconds = 10;
    AlertRules rules(config);
    const NodeStatus quiet = quietNode();
    // A start on a quiet node: nothing fires (conflicts: the baseline of the window).
    AlertInputs base = at(kT0);
    QVERIFY(rules.evaluate(quiet, base).isEmpty());

    const qint64 t1 = kT0 + 3LL * 86400 * 1000;  // 3 days later
    NodeStatus bad = quiet;
    AlertInputs in = at(t1);
    if (rule == "lag_seconds") bad.shards[1].lagSeconds = 75;
    if (rule == "lag_messages") bad.shards[0].lagMessages = 12000;
    if (rule == "dead_letters") bad.deadLetterCount = 2;
    if (rule == "conflicts_per_minute") {
      // The window keeps 60 s: a baseline 30 s before (a fresh snapshot then), then 150 more.
      NodeStatus before = quiet;
      before.snapshots.catalog[0].takenAtMs = t1 - 30000;
      QVERIFY(rules.evaluate(before, at(t1 - 30000)).isEmpty());
      in.conflictsSinceStart = 150;
    }
    if (rule == "nats_disconnected_seconds") {
      bad.natsConnected = false;
      in.natsDownSinceMs = t1 - 40000;
    }
    if (rule == "disk_free_percent") in.diskFreePercent = 4.5;
    if (rule == "shard_stopped") {
      bad.shards[1].state = ShardState::Stopped;
      bad.shards[1].lastError = "boom";
    }
    if (rule == "shard_needs_restore") bad.shards[0].state = ShardState::NeedsRestore;
    if (rule == "shard_schema_paused") {
      bad.shards[0].state = ShardState::SchemaPaused;
      bad.shards[0].waitingReason = "no column email in Books";
    }
    if (rule == "database") bad.dbConnected = false;
    if (rule == "capture") bad.cdcInstalled = false;
    if (rule == "duplicate_node_id") in.duplicateIdSeenMs = t1 - 1000;
    // The quiet snapshot of kT0 is 3 days old at t1: only the snapshot rule may see it. Give the
    // others a fresh one.
    if (rule != "snapshot_age_seconds") {
      bad.snapshots.catalog[0].takenAtMs = t1;
    }
    NodeStatus good = quiet;
    good.snapshots.catalog[0].takenAtMs = t1;

    QList<AlertInfo> changed = rules.evaluate(bad, in);
    if (holds) {
      QVERIFY2(changed.isEmpty(), qPrintable(names(changed).join(' ')));
      QVERIFY(find(rules, rule)->pending);
      QVERIFY(!find(rules, rule)->firing);
      AlertInputs later = in;
      later.nowMs = t1 + 9000;  // not yet 10 s
      if (rule == "duplicate_node_id") later.duplicateIdSeenMs = later.nowMs;
      QVERIFY(rules.evaluate(bad, later).isEmpty());
      later.nowMs = t1 + 10000;
      if (rule == "duplicate_node_id") later.duplicateIdSeenMs = later.nowMs;
      if (rule == "nats_disconnected_seconds") later.natsDownSinceMs = in.natsDownSinceMs;
      changed = rules.evaluate(bad, later);
      in = later;
    }
    QCOMPARE(names(changed), QStringList{rule + ":fired"});
    const AlertInfo& fired = changed.first();
    QCOMPARE(stateName(fired.severity), severity);
    QVERIFY2(fired.message.contains(message), qPrintable(fired.message));
    QCOMPARE(fired.sinceMs, in.nowMs);
    QVERIFY(find(rules, rule)->firing);
    // Still true: no second "fired".
    in.nowMs += 500;
    if (rule == "duplicate_node_id") in.duplicateIdSeenMs = in.nowMs;
    QVERIFY(rules.evaluate(bad, in).isEmpty());

    // Gone: resolved at once, with its last message.
    AlertInputs ok = at(in.nowMs + 500);
    ok.conflictsSinceStart = in.conflictsSinceStart;  // no new conflicts
    good.snapshots.catalog[0].takenAtMs = ok.nowMs;
    if (rule == "conflicts_per_minute") ok.nowMs += 61000;  // out of the window
    changed = rules.evaluate(good, ok);
    QCOMPARE(names(changed), QStringList{rule + ":resolved"});
    QVERIFY(!find(rules, rule)->firing);
    QCOMPARE(find(rules, rule)->sinceMs, 0);
  }

  // A condition that goes away during the hold never fires; hold_seconds = 0 fires at once.
  void holdAndFlapping() {
    AlertsConfig config;
    config.holdSeconds = 30;
    AlertRules rules(config);
    NodeStatus lagging = quietNode();
    lagging.shards[0].lagSeconds = 120;
    QVERIFY(rules.evaluate(lagging, at(kT0)).isEmpty());
    QVERIFY(rules.evaluate(quietNode(), at(kT0 + 20000)).isEmpty());  // gone: pending ends
    QVERIFY(rules.evaluate(lagging, at(kT0 + 35000)).isEmpty());      // the hold starts again
    QVERIFY(!find(rules, "lag_seconds")->firing);
    QCOMPARE(names(rules.evaluate(lagging, at(kT0 + 65000))), QStringList{"lag_seconds:fired"});

    config.holdSeconds = 0;
    AlertRules now(config);
    QCOMPARE(names(now.evaluate(lagging, at(kT0))), QStringList{"lag_seconds:fired"});
  }

  // A threshold of 0 turns its rule off: it is not listed (and has no /metrics series); the
  // states that are always alerts are always listed.
  void zeroTurnsARuleOff() {
    AlertsConfig config;
    config.lagSeconds = 0;
    config.deadLetters = 0;
    config.holdSeconds = 0;
    AlertRules rules(config);
    QVERIFY(!find(rules, "lag_seconds"));
    QVERIFY(!find(rules, "dead_letters"));
    QVERIFY(find(rules, "lag_messages"));
    QVERIFY(find(rules, "shard_stopped"));
    QCOMPARE(rules.alerts().size(), 11);
    NodeStatus s = quietNode();
    s.shards[0].lagSeconds = 1e6;
    s.deadLetterCount = 100;
    QVERIFY(rules.evaluate(s, at(kT0)).isEmpty());
  }

  // While NATS is down every shard stops: only nats_disconnected_seconds tells it.
  void stoppedShardsWhileDisconnected() {
    AlertsConfig config;
    config.holdSeconds = 0;
    config.natsDisconnectedSeconds = 30;
    AlertRules rules(config);
    NodeStatus s = quietNode();
    s.natsConnected = false;
    s.shards[0].state = ShardState::Stopped;
    s.shards[1].state = ShardState::Stopped;
    AlertInputs in = at(kT0);
    in.natsDownSinceMs = kT0 - 31000;
    QCOMPARE(names(rules.evaluate(s, in)), QStringList{"nats_disconnected_seconds:fired"});
    // Reconnected, and one shard still stopped: now it is the shard.
    s.natsConnected = true;
    s.shards[1].state = ShardState::Running;
    in = at(kT0 + 1000);
    QCOMPARE(names(rules.evaluate(s, in)),
             (QStringList{"nats_disconnected_seconds:resolved", "shard_stopped:fired"}));
    QCOMPARE(find(rules, "shard_stopped")->value, 1.0);
  }

  // Without a snapshot in the store, the age counts from the node's start; before the
  // catalogue was read, or with snapshots off, the rule says nothing.
  void snapshotAgeWithoutSnapshots() {
    AlertsConfig config;
    config.snapshotAgeSeconds = 60;
    AlertRules rules(config);
    NodeStatus s = quietNode();
    s.snapshots.catalog.clear();
    s.snapshots.catalogReadMs = 0;
    QVERIFY(rules.evaluate(s, at(kT0 + 120000)).isEmpty());
    s.snapshots.catalogReadMs = kT0;
    const QList<AlertInfo> changed = rules.evaluate(s, at(kT0 + 120000));
    QCOMPARE(names(changed), QStringList{"snapshot_age_seconds:fired"});
    QVERIFY2(changed[0].message.contains("no snapshot in the store, 2 min after start"),
             qPrintable(changed[0].message));
    QCOMPARE(changed[0].value, 120.0);
    s.snapshots.enabled = false;
    QCOMPARE(names(rules.evaluate(s, at(kT0 + 121000))),
             QStringList{"snapshot_age_seconds:resolved"});
  }

  // ---- history ------------------------------------------------------------------------------

  // Minutes are folded from the statuses (rates from the counters' growth, the largest lag per
  // shard, the last levels), written when the minute is over and at flush, read back, and kept
  // across a reopen (a restart); the CSV has one line per sample and a column per shard.
  void historyFoldsMinutesAndSurvivesReopen() {
    QTemporaryDir dir;
    const QString path = dir.filePath("history.db");
    const qint64 m0 = kT0 / 60000 * 60000;
    {
      HistoryStore store(path, 24);
      QVERIFY2(store.open().isOk(), "open");
      NodeStatus s = quietNode();
      s.dbSizeBytes = 4096;
      for (int i = 0; i < 60; ++i) {  // one status a second, 50 published and 20 applied each
        s.published = 50 * i;
        s.shards[0].appliedChanges = 20 * i;
        s.shards[0].lagMessages = i == 30 ? 900 : 3;
        s.shards[1].lagSeconds = i == 10 ? 2.5 : 0;
        s.pendingChanges = i;
        store.add(s, i / 10, m0 + i * 1000);
      }
      QCOMPARE(store.samplesWritten(), 0);
      s.published = 50 * 60;
      store.add(s, 6, m0 + 60000);  // the next minute: the first is written
      QCOMPARE(store.samplesWritten(), 1);
      store.flush();  // the partial second minute
      QCOMPARE(store.samplesWritten(), 2);
    }
    auto read = readHistory(path, 0);
    QVERIFY2(read.ok(), qPrintable(read.status().toString()));
    QCOMPARE(read->size(), 2);
    const HistorySample& first = read->at(0);
    QCOMPARE(first.minuteMs, m0);
    QCOMPARE(first.publishedPerSecond, 50.0);  // 2950 over 59 s
    QCOMPARE(first.appliedPerSecond, 20.0);
    QCOMPARE(first.pending, 59);
    QCOMPARE(first.conflicts, 5);
    QCOMPARE(first.dbBytes, 4096);
    QCOMPARE(first.lag.value(1).messages, 900);
    QCOMPARE(first.lag.value(2).seconds, 2.5);
    QCOMPARE(first.lagMessages(), 900);
    QCOMPARE(read->at(1).minuteMs, m0 + 60000);
    QCOMPARE(read->at(1).publishedPerSecond, 50.0);  // the step from the previous reading
    QCOMPARE(readHistory(path, m0 + 1)->size(), 1);

    // A restart: a new store on the same file adds to what is there.
    {
      HistoryStore store(path, 24);
      QVERIFY(store.open().isOk());
      store.add(quietNode(), 0, m0 + 5 * 60000);
      store.flush();
    }
    QCOMPARE(readHistory(path, 0)->size(), 3);

    const QByteArray csv = historyCsv(*readHistory(path, 0));
    const QList<QByteArray> lines = csv.trimmed().split('\n');
    QCOMPARE(lines.size(), 4);
    QCOMPARE(lines[0].trimmed(),
             QByteArray("time,published_per_second,applied_per_second,pending,conflicts,"
                        "dead_letters,db_bytes,wal_bytes,lag_messages,lag_seconds,"
                        "lag_messages_shard_1,lag_seconds_shard_1,lag_messages_shard_2,"
                        "lag_seconds_shard_2"));
    const QList<QByteArray> f = lines[1].trimmed().split(',');
    QCOMPARE(f.size(), 14);
    QCOMPARE(QDateTime::fromString(QString::fromLatin1(f[0]), Qt::ISODate).toMSecsSinceEpoch(), m0);
    QCOMPARE(f[1], QByteArray("50.00"));
    QCOMPARE(f[8], QByteArray("900"));
    QCOMPARE(f[10], QByteArray("900"));
  }

  // history.hours bounds the file: older rows (samples, lags, alerts) go at each write.
  void historyKeepsItsHours() {
    QTemporaryDir dir;
    const QString path = dir.filePath("history.db");
    const qint64 m0 = kT0 / 60000 * 60000;
    HistoryStore store(path, 1);
    QVERIFY(store.open().isOk());
    AlertInfo a;
    a.rule = "lag_seconds";
    a.firing = true;
    store.recordAlert(a, m0);
    for (int minute = 0; minute <= 90; ++minute) store.add(quietNode(), 0, m0 + minute * 60000);
    store.flush();
    auto read = readHistory(path, 0);
    QVERIFY(read.ok());
    QCOMPARE(read->size(), 61);  // minutes 30..90
    QCOMPARE(read->first().minuteMs, m0 + 30 * 60000);
    QVERIFY(read->first().lag.contains(1));
    QCOMPARE(readAlertLog(path, 10)->size(), 0);
  }

  // Alert transitions are written as they happen and read back newest first.
  void alertLog() {
    QTemporaryDir dir;
    const QString path = dir.filePath("history.db");
    HistoryStore store(path, 24);
    QVERIFY(store.open().isOk());
    AlertInfo a;
    a.rule = "nats_disconnected_seconds";
    a.severity = AlertSeverity::Critical;
    a.firing = true;
    a.value = 31;
    a.message = "NATS disconnected for 31 s (alert at 30 s)";
    store.recordAlert(a, kT0);
    a.firing = false;
    a.value = 0;
    store.recordAlert(a, kT0 + 5000);
    auto log = readAlertLog(path, 10);
    QVERIFY(log.ok());
    QCOMPARE(log->size(), 2);
    QCOMPARE(log->at(0).firing, false);
    QCOMPARE(log->at(0).atMs, kT0 + 5000);
    QCOMPARE(log->at(1).firing, true);
    QCOMPARE(log->at(1).severity, AlertSeverity::Critical);
    QCOMPARE(log->at(1).value, 31.0);
    QCOMPARE(log->at(1).message, a.message);
    QCOMPARE(readAlertLog(path, 1)->size(), 1);
  }

  // A missing file is an empty history; a file that is not a database, or a directory that
  // cannot be written, is an error that names it.
  void historyBadFiles() {
    QTemporaryDir dir;
    QCOMPARE(readHistory(dir.filePath("none.db"), 0)->size(), 0);
    QCOMPARE(readAlertLog(dir.filePath("none.db"), 5)->size(), 0);
    QFile junk(dir.filePath("junk.db"));
    QVERIFY(junk.open(QIODevice::WriteOnly));
    junk.write(QByteArray(4096, 'x'));
    junk.close();
    auto bad = readHistory(junk.fileName(), 0);
    QVERIFY(!bad.ok());
    HistoryStore store(dir.filePath("no/such/dir/history.db"), 24);
    const Status s = store.open();
    QVERIFY(!s.isOk());
    QVERIFY2(s.message().contains("no/such/dir/history.db"), qPrintable(s.message()));
    store.add(quietNode(), 0, kT0);  // not open: nothing, no crash
    store.flush();
  }
};

QTEST_GUILESS_MAIN(TestAlerts)
#include "tst_alerts.moc"
