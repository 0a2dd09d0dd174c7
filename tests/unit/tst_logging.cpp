// Log line formats: console and JSON, with node_id on every line.
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include "harmonylite/logging.h"

using namespace hl;

class TestLogging : public QObject {
  Q_OBJECT
 private slots:
  void jsonLinesParse_data() {
    QTest::addColumn<QString>("message");
    QTest::newRow("plain") << "node started";
    QTest::newRow("quotes and newline") << "a \"quoted\"\nline\twith tab \\ backslash";
    QTest::newRow("unicode") << QString::fromUtf8("täble ✓ \xF0\x9F\x98\x80");
    QTest::newRow("control") << QString("bell\x07 nul-free");
  }
  void jsonLinesParse() {
    QFETCH(QString, message);
    const QDateTime t = QDateTime(QDate(2026, 1, 2), QTime(3, 4, 5, 6), Qt::UTC);
    const QByteArray line =
        formatLogLine(LogFormat::kJson, QtWarningMsg, "hl.nats", message, 42, t);
    QVERIFY(!line.contains('\n'));
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(line, &err);
    QCOMPARE(err.error, QJsonParseError::NoError);
    const QJsonObject o = doc.object();
    QCOMPARE(o.value("node_id").toInteger(), 42);
    QCOMPARE(o.value("level").toString(), QString("warn"));
    QCOMPARE(o.value("category").toString(), QString("hl.nats"));
    QCOMPARE(o.value("message").toString(), message);
    QCOMPARE(o.value("time").toString(), QString("2026-01-02T03:04:05.006Z"));
  }

  void consoleLine() {
    const QDateTime t = QDateTime(QDate(2026, 1, 2), QTime(3, 4, 5, 6), Qt::UTC);
    QCOMPARE(formatLogLine(LogFormat::kConsole, QtInfoMsg, "hl.main", "hello", 7, t),
             QByteArray("2026-01-02T03:04:05.006Z INF [hl.main] node=7 hello"));
    QVERIFY(formatLogLine(LogFormat::kConsole, QtCriticalMsg, "hl.x", "m", 7, t).contains(" ERR "));
    QVERIFY(formatLogLine(LogFormat::kConsole, QtDebugMsg, "hl.x", "m", 7, t).contains(" DBG "));
  }

  void formatNames() {
    QCOMPARE(logFormatFromName("json"), LogFormat::kJson);
    QCOMPARE(logFormatFromName("console"), LogFormat::kConsole);
  }

  void verboseEnablesDebug() {
    installLogHandler(LogFormat::kConsole, false);
    QVERIFY(!lcMain().isDebugEnabled());
    QVERIFY(lcMain().isInfoEnabled());
    installLogHandler(LogFormat::kConsole, true);
    QVERIFY(lcMain().isDebugEnabled());
    qInstallMessageHandler(nullptr);
  }
};

QTEST_GUILESS_MAIN(TestLogging)
#include "tst_logging.moc"
