// Alerts and history on real nodes (docs/alerts.md): engines in this process and `harmonylite`
// processes against real nats-server processes. Each rule the issue names fires and resolves for
// real: lag by pausing a shard's applying on a two-node cluster, snapshot age with a short
// threshold (and a snapshot saved to resolve it), NATS loss by stopping the server. Each is
// checked in the events, the status, the /health body, /metrics, the history file's alert log
// and the dashboard's notification request. The history survives a restart of a node process
// and /history.csv serves it as CSV; a headless node logs a firing alert as a JSON warning. A
// dead letter (a message for a table the node lacks) fires dead_letters until it is discarded;
// a second engine with the same node id fires duplicate_node_id until it stops.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include <functional>
#include <memory>

#include "dashboard_controller.h"
#include "harmonylite/engine_thread.h"
#include "harmonylite/history.h"
#include "health_server.h"
#include "metrics_server.h"
#include "nats_test_client.h"
#include "node_process.h"
#include "test_support.h"
#include "wire/cbor_codec.h"

using namespace hl;
using C = EngineThread::Control;
using test::NodeProcess;

namespace {

struct Node {
  std::unique_ptr<EngineThread> engine;
  NodeStatus status;
  QList<EngineEvent> events;
  Config config;
  QString db;
};

// The alert transitions of `rule` a node told, as "fired" / "resolved".
QStringList transitions(const Node& n, const QString& rule) {
  QStringList out;
  for (const EngineEvent& e : n.events)
    if ((e.kind == EngineEvent::Kind::AlertFired || e.kind == EngineEvent::Kind::AlertResolved) &&
        e.alert.rule == rule)
      out << (e.kind == EngineEvent::Kind::AlertFired ? "fired" : "resolved");
  return out;
}

const AlertInfo* alertOf(const NodeStatus& s, const QString& rule) {
  for (const AlertInfo& a : s.alerts)
    if (a.rule == rule) return &a;
  return nullptr;
}

QJsonObject firingInHealth(const NodeStatus& s, const QString& rule) {
  for (const QJsonValue& v : HealthServer::toJson(s, true).value("alerts").toArray())
    if (v.toObject().value("alert").toString() == rule) return v.toObject();
  return {};
}

QByteArray metricLine(const NodeStatus& s, const QString& rule) {
  const QByteArray want = QStringLiteral("harmonylite_alerts_firing{node_id=\"%1\",alert=\"%2\"} ")
                              .arg(s.nodeId)
                              .arg(rule)
                              .toUtf8();
  for (const QByteArray& line : MetricsServer::render({}, s).split('\n'))
    if (line.startsWith(want)) return line;
  return {};
}

}  // namespace

class TestAlertsNode : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  test::NatsServer m_server;

  void startNode(Node& n, const QString& tag, uint64_t id, const QString& url,
                 const std::function<void(Config&)>& configure) {
    const QString dir = m_dir.filePath(tag);
    QVERIFY(QDir().mkpath(dir));
    n.db = dir + "/data.db";
    bool ok = false;
    test::sqlite3(n.db, test::kReferenceSchema, &ok);
    QVERIFY(ok);
    Config c;
    c.dbPath = n.db;
    c.nodeId = id;
    c.replicationLog.shards = 2;
    c.nats.urls = {url};
    c.alerts.holdSeconds = 1;
    configure(c);
    n.config = c;
    n.engine = std::make_unique<EngineThread>(c);
    connect(n.engine.get(), &EngineThread::statusChanged, this,
            [&n](const NodeStatus& s) { n.status = s; });
    connect(n.engine.get(), &EngineThread::event, this,
            [&n](const EngineEvent& e) { n.events << e; });
    QSignalSpy started(n.engine.get(), &EngineThread::started);
    n.engine->start();
    QVERIFY(started.wait(30000));
    QVERIFY(test::waitFor([&] { return n.status.healthy; }, 15000));
  }

  static QPair<bool, QString> run(Node& node, C control, qint64 id = 0, bool confirm = false) {
    QSignalSpy spy(node.engine.get(), &EngineThread::controlDone);
    node.engine->control(control, id, confirm);
    if (!spy.wait(30000)) return {false, "no answer"};
    return {spy.at(0).at(1).toBool(), spy.at(0).at(2).toString()};
  }

 private slots:
  void initTestCase() { QVERIFY(m_server.start().isOk()); }

  // Lag: node 2's applying paused while node 1 writes. lag_messages (at 3, hold 1 s) fires on
  // node 2 only, shows in /health, /metrics, the history's alert log and as the dashboard's
  // notification request; it resolves when applying resumes and node 2 catches up.
  void lagAlertByPausingAShard() {
    Node n1, n2;
    auto configure = [](Config& c) {
      c.alerts.lagMessages = 3;
      c.alerts.lagSeconds = 0;  // off: one lag rule to follow
    };
    startNode(n1, "lag1", 1, m_server.url(), configure);
    startNode(n2, "lag2", 2, m_server.url(), configure);
    if (QTest::currentTestFailed()) return;
    DashboardController dashboard;
    connect(n2.engine.get(), &EngineThread::event, &dashboard, &DashboardController::onEngineEvent);
    QSignalSpy notified(&dashboard, &DashboardController::notificationRequested);

    QVERIFY(alertOf(n2.status, "lag_messages"));
    QVERIFY(!alertOf(n2.status, "lag_seconds"));  // 0 = off: not listed
    QCOMPARE(metricLine(n2.status, "lag_messages"),
             QByteArray("harmonylite_alerts_firing{node_id=\"2\",alert=\"lag_messages\"} 0"));
    QVERIFY(run(n2, C::kPauseApplying).first);
    QString values;
    for (int i = 1; i <= 12; ++i)
      values += QStringLiteral("%1(%2, 'b%2', 'a')").arg(i == 1 ? "" : ",").arg(i);
    bool ok = false;
    test::sqlite3(n1.db, "INSERT INTO Books(id, title, author) VALUES " + values, &ok);
    QVERIFY(ok);

    QVERIFY2(test::waitFor([&] { return transitions(n2, "lag_messages") == QStringList{"fired"}; },
                           20000),
             qPrintable(transitions(n2, "lag_messages").join(',')));
    const AlertInfo* a = alertOf(n2.status, "lag_messages");
    QVERIFY(
        test::waitFor([&] { return (a = alertOf(n2.status, "lag_messages")) && a->firing; }, 5000));
    QVERIFY2(a->value >= 3, qPrintable(a->message));
    QVERIFY2(a->message.contains("messages not applied yet (alert at 3)"), qPrintable(a->message));
    const QJsonObject health = firingInHealth(n2.status, "lag_messages");
    QCOMPARE(health.value("severity").toString(), QString("warning"));
    QCOMPARE(health.value("threshold").toDouble(), 3.0);
    QVERIFY(!health.value("since").toString().isEmpty());
    QCOMPARE(metricLine(n2.status, "lag_messages"),
             QByteArray("harmonylite_alerts_firing{node_id=\"2\",alert=\"lag_messages\"} 1"));
    QCOMPARE(n2.status.worstAlert(), int(AlertSeverity::Warning));
    QVERIFY(transitions(n1, "lag_messages").isEmpty());  // node 1 applied nothing to lag on
    QVERIFY(test::waitFor([&] { return notified.size() >= 1; }, 5000));
    QCOMPARE(notified.at(0).at(0).toString(), QString("Alert: lag_messages"));
    QVERIFY(notified.at(0).at(1).toString().contains("messages not applied yet"));
    QCOMPARE(notified.at(0).at(2).toBool(), false);  // a warning, not critical
    QCOMPARE(dashboard.summary().alertsFiring, 0);   // (the dashboard was fed events only)

    QVERIFY(run(n2, C::kResumeApplying).first);
    QVERIFY(test::waitFor(
        [&] {
          return transitions(n2, "lag_messages") == QStringList({"fired", "resolved"});
        },
        20000));
    QVERIFY(test::waitFor([&] { return !alertOf(n2.status, "lag_messages")->firing; }, 5000));
    QVERIFY(firingInHealth(n2.status, "lag_messages").isEmpty());
    QCOMPARE(metricLine(n2.status, "lag_messages"),
             QByteArray("harmonylite_alerts_firing{node_id=\"2\",alert=\"lag_messages\"} 0"));
    QVERIFY(test::waitFor([&] { return notified.size() >= 2; }, 5000));
    QCOMPARE(notified.at(1).at(0).toString(), QString("Alert lag_messages resolved"));

    auto log = readAlertLog(n2.config.effectiveHistoryPath(), 10);
    QVERIFY2(log.ok(), qPrintable(log.status().toString()));
    QCOMPARE(log->size(), 2);
    QCOMPARE(log->at(0).firing, false);
    QCOMPARE(log->at(1).firing, true);
    QCOMPARE(log->at(1).rule, QString("lag_messages"));
    QVERIFY(log->at(1).value >= 3);
    n1.engine->stop();
    n2.engine->stop();

    // The dashboard of a restarted node lists the alerts of the run before (Events page).
    DashboardController later;
    later.setConfig(n2.config);
    int alertRows = 0;
    for (int row = 0; row < later.events()->rowCount(); ++row)
      if (later.events()->data(later.events()->index(row), EventModel::kKindRole).toInt() ==
          int(EventModel::Kind::Alert))
        ++alertRows;
    QCOMPARE(alertRows, 2);
    QCOMPARE(later.events()->data(later.events()->index(0), EventModel::kTitleRole).toString(),
             QString("Alert lag_messages resolved"));
  }

  // Snapshot age at 2 s: with an empty store the age counts from the start, and the alert
  // fires; a snapshot saved resolves it; 2 s later it fires again on the new snapshot's age.
  void snapshotAgeWithShortThreshold() {
    Node n;
    startNode(n, "snapage", 3, m_server.url(), [&](Config& c) {
      c.alerts.snapshotAgeSeconds = 2;
      c.nats.streamPrefix = "snapage";  // its own snapshot bucket
      c.nats.subjectPrefix = "snapage-log";
    });
    if (QTest::currentTestFailed()) return;
    QVERIFY(test::waitFor(
        [&] { return transitions(n, "snapshot_age_seconds") == QStringList{"fired"}; }, 20000));
    QVERIFY(
        alertOf(n.status, "snapshot_age_seconds")->message.contains("no snapshot in the store"));
    const auto saved = run(n, C::kSaveSnapshot);
    QVERIFY2(saved.first, qPrintable(saved.second));
    QVERIFY(test::waitFor(
        [&] {
          return transitions(n, "snapshot_age_seconds") == QStringList({"fired", "resolved"});
        },
        20000));
    QVERIFY(test::waitFor(
        [&] {
          return transitions(n, "snapshot_age_seconds").size() == 3 &&
                 alertOf(n.status, "snapshot_age_seconds")->firing;
        },
        20000));
    QVERIFY2(alertOf(n.status, "snapshot_age_seconds")->message.contains("the newest snapshot is"),
             qPrintable(alertOf(n.status, "snapshot_age_seconds")->message));
    n.engine->stop();
  }

  // NATS lost: nats_disconnected_seconds (at 1 s) fires, critical, without a shard_stopped
  // alert beside it; it resolves when the server is back. The dashboard asks for a critical
  // notification.
  void natsLossFiresAndResolves() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    Node n;
    startNode(n, "natsloss", 4, server.url(),
              [](Config& c) { c.alerts.natsDisconnectedSeconds = 1; });
    if (QTest::currentTestFailed()) return;
    DashboardController dashboard;
    connect(n.engine.get(), &EngineThread::event, &dashboard, &DashboardController::onEngineEvent);
    QSignalSpy notified(&dashboard, &DashboardController::notificationRequested);
    server.kill();
    QVERIFY(test::waitFor(
        [&] { return transitions(n, "nats_disconnected_seconds") == QStringList{"fired"}; },
        20000));
    QVERIFY(
        test::waitFor([&] { return n.status.worstAlert() == int(AlertSeverity::Critical); }, 5000));
    QCOMPARE(firingInHealth(n.status, "nats_disconnected_seconds").value("severity").toString(),
             QString("critical"));
    QVERIFY(test::waitFor([&] { return notified.size() >= 1; }, 5000));
    QCOMPARE(notified.at(0).at(0).toString(), QString("Critical alert: nats_disconnected_seconds"));
    QCOMPARE(notified.at(0).at(2).toBool(), true);
    QVERIFY(server.start().isOk());
    QVERIFY(test::waitFor(
        [&] {
          return transitions(n, "nats_disconnected_seconds") == QStringList({"fired", "resolved"});
        },
        30000));
    QVERIFY(transitions(n, "shard_stopped").isEmpty());
    n.engine->stop();
  }

  void deadLetterAndDuplicateNodeId() {
    Node n;
    auto configure = [](Config& c) {
      c.nats.streamPrefix = "dl";  // streams and status records of their own
      c.nats.subjectPrefix = "dl-log";
    };
    startNode(n, "dl", 5, m_server.url(), configure);
    if (QTest::currentTestFailed()) return;
    auto nc = test::connectTo(m_server.url());
    QVERIFY(nc.ok());
    auto js = test::jetStream(nc->get());
    QVERIFY(js.ok());
    Change c;
    c.fromNodeId = 9;
    c.id = 1;
    c.table = "Never";
    c.row = {{"id", Value::integer(1)}};
    QVERIFY(test::publish(js->get(), "dl-log-1", encodeMessage(c, true)).isOk());
    QVERIFY(test::waitFor([&] { return transitions(n, "dead_letters") == QStringList{"fired"}; },
                          20000));
    QVERIFY(alertOf(n.status, "dead_letters")->message.contains("1 dead letter(s)"));
    const qint64 id = n.status.recentDeadLetters.value(0).id;
    QVERIFY(run(n, C::kDiscardDeadLetter, id, true).first);
    QVERIFY(test::waitFor(
        [&] {
          return transitions(n, "dead_letters") == QStringList({"fired", "resolved"});
        },
        20000));

    // A clone: another process (here an engine) with node id 5 on the same cluster.
    Node clone;
    startNode(clone, "dl-clone", 5, m_server.url(), configure);
    if (QTest::currentTestFailed()) return;
    QVERIFY(test::waitFor(
        [&] { return transitions(n, "duplicate_node_id") == QStringList{"fired"}; }, 20000));
    QCOMPARE(firingInHealth(n.status, "duplicate_node_id").value("severity").toString(),
             QString("critical"));
    clone.engine->stop();
    QVERIFY(test::waitFor(
        [&] {
          return transitions(n, "duplicate_node_id") == QStringList({"fired", "resolved"});
        },
        30000));
    n.engine->stop();
  }

  // A node process with short "minutes" (the test fault HL_TEST_HISTORY_MINUTE_MS) keeps its
  // samples across a restart; /history.csv serves them as CSV that parses; ?hours= is checked.
  // With NATS gone, the headless node logs the alert as a JSON warning.
  void historySurvivesRestartAndExports() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    qputenv("HL_TEST_HISTORY_MINUTE_MS", "400");
    auto unset = qScopeGuard([] { qunsetenv("HL_TEST_HISTORY_MINUTE_MS"); });
    NodeProcess::Options o;
    o.nodeId = 9;
    o.dir = m_dir.filePath("history");
    o.urls = {server.url()};
    o.healthPort = test::freePort();
    o.tablesToml =
        "[alerts]\nhold_seconds = 0\nnats_disconnected_seconds = 1\n[logging]\nformat = \"json\"\n";
    NodeProcess node(o);
    QVERIFY2(node.start().isOk(), qPrintable(node.log()));
    node.sql("INSERT INTO Books(id, title, author) VALUES (1, 't', 'a'), (2, 'u', 'b')");

    auto csvLines = [&](const QString& query = QString()) {
      QByteArray body;
      const int code = test::httpGet(o.healthPort, "/history.csv" + query, &body);
      return code == 200 ? QString::fromUtf8(body).trimmed().split("\r\n") : QStringList();
    };
    QStringList before;
    QVERIFY(test::waitFor(
        [&] {
          before = csvLines();
          return before.size() >= 4;  // the header and 3 samples
        },
        20000));
    QCOMPARE(node.stop(), 0);
    QVERIFY2(node.start().isOk(), qPrintable(node.log()));
    QStringList after;
    QVERIFY(test::waitFor(
        [&] {
          after = csvLines();
          return after.size() >= before.size() + 3;
        },
        20000));
    const QStringList header = after.first().split(',');
    QCOMPARE(header.first(), QString("time"));
    QVERIFY(header.contains("lag_messages_shard_2"));
    QCOMPARE(header.size(), 14);
    qint64 previous = 0;
    double publishedRate = 0;
    for (const QString& line : after.mid(1)) {
      const QStringList f = line.split(',');
      QCOMPARE(f.size(), header.size());
      const qint64 t = QDateTime::fromString(f[0], Qt::ISODate).toMSecsSinceEpoch();
      QVERIFY2(t > previous, qPrintable(line));
      previous = t;
      publishedRate = std::max(publishedRate, f[1].toDouble());
    }
    QVERIFY(publishedRate > 0);                // the two rows published in the first run
    for (const QString& line : before.mid(1))  // every earlier sample kept
      QVERIFY2(after.contains(line) ||
                   std::any_of(after.begin(), after.end(),
                               [&](const QString& l) { return l.startsWith(line.left(20)); }),
               qPrintable(line));
    QByteArray body;
    QCOMPARE(test::httpGet(o.healthPort, "/history.csv?hours=abc", &body), 400);
    QVERIFY(csvLines("?hours=1").size() >= 2);

    server.kill();
    QVERIFY(test::waitFor(
        [&] {
          for (const QString& line : node.log().split('\n')) {
            const QJsonObject j = QJsonDocument::fromJson(line.toUtf8()).object();
            if (j.value("level").toString() == "warn" &&
                j.value("message").toString().startsWith(
                    "alert nats_disconnected_seconds (critical) firing: NATS disconnected for"))
              return true;
          }
          return false;
        },
        20000));
    QCOMPARE(node.stop(), 0);
  }
};

QTEST_MAIN(TestAlertsNode)
#include "tst_alerts_node.moc"
