// The WebDAV store against a real WebDAV server (lighttpd mod_webdav, webdav_test_server.h),
// beyond the conformance cases of tst_snapshot_stores: an independent client (curl) and the
// server's own files agree with us; a wrong password is a clear 401 without the password in
// it; a server without authentication works; TLS is verified (a self-signed certificate is
// refused) unless insecure_skip_verify; a server killed mid-upload leaves the previous object
// whole and no half file under its name; a request retried after the server came back; a
// server that accepts and never answers is given up after idle_timeout.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QTcpServer>
#include <QtTest>

#include "snapshot/webdav_store.h"
#include "store_test_util.h"
#include "test_support.h"
#include "webdav_test_server.h"

using namespace hl;
using test::getBytes;
using test::kMiB;
using test::putBytes;
using test::randomBytes;

class TestWebDavStore : public QObject {
  Q_OBJECT

  test::WebDavTestServer m_server;

  // curl as the independent WebDAV client; its exit code, its output in `out`.
  int curl(const QStringList& args, QByteArray* out = nullptr) {
    QStringList all{QStringLiteral("-sS"), QStringLiteral("-u"),
                    QStringLiteral("%1:%2").arg(QLatin1String(test::WebDavTestServer::kLogin),
                                                QLatin1String(test::WebDavTestServer::kSecret))};
    const test::ProcessResult r = test::runProcess(QStringLiteral("curl"), all + args, 60000);
    if (out) *out = r.out;
    return r.exitCode;
  }
  QString http(const QString& path) const {
    return QStringLiteral("http://127.0.0.1:%1/dav/%2").arg(m_server.port()).arg(path);
  }

 private slots:
  void initTestCase() {
    const Status st = m_server.start();
    QVERIFY2(st.isOk(), qPrintable(st.toString()));
  }

  void temporaryNames() {
    const QString t = temporaryName(QStringLiteral("snapshots/a.db"));
    QVERIFY2(t.startsWith(QLatin1String("snapshots/.a.db.part-")), qPrintable(t));
    QVERIFY(isTemporaryName(t));
    QVERIFY(validateObjectName(t).isOk());
    QVERIFY(t != temporaryName(QStringLiteral("snapshots/a.db")));
    QVERIFY(!isTemporaryName(QStringLiteral("snapshots/a.db")));
    QVERIFY(!isTemporaryName(QStringLiteral(".hidden/a.db")));
  }

  // What we upload is the server's file, and curl reads it; what curl uploads we read.
  void independentClientAgrees() {
    WebDavStore s(m_server.config(QStringLiteral("indep/deeper")));
    const QByteArray mine = randomBytes(3 * kMiB + 5);
    QVERIFY_OK(putBytes(s, QStringLiteral("snapshots/mine.db"), mine));
    QFile onDisk(m_server.dataDir() + QStringLiteral("/indep/deeper/snapshots/mine.db"));
    QVERIFY(onDisk.open(QIODevice::ReadOnly));
    QVERIFY(onDisk.readAll() == mine);
    QByteArray viaCurl;
    QCOMPARE(curl({http(QStringLiteral("indep/deeper/snapshots/mine.db"))}, &viaCurl), 0);
    QVERIFY(viaCurl == mine);

    const QString theirsPath = QDir::temp().filePath(QStringLiteral("hl-webdav-theirs.db"));
    const QByteArray theirs = randomBytes(4321);
    QVERIFY(test::writeFile(theirsPath, theirs));
    QCOMPARE(
        curl({QStringLiteral("-T"), theirsPath, http(QStringLiteral("indep/deeper/theirs.db"))}),
        0);
    QFile::remove(theirsPath);
    auto got = getBytes(s, QStringLiteral("theirs.db"));
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    QVERIFY(*got == theirs);
    auto listed = s.list();
    QVERIFY2(listed.ok(), qPrintable(listed.status().toString()));
    QStringList names;
    for (const StoreObject& o : *listed) {
      names << o.name;
      if (o.name == QLatin1String("theirs.db")) {
        QCOMPARE(o.size, qint64(4321));
        QVERIFY(qAbs(o.modified.secsTo(QDateTime::currentDateTimeUtc())) < 120);
      }
    }
    names.sort();
    QCOMPARE(names,
             QStringList({QStringLiteral("snapshots/mine.db"), QStringLiteral("theirs.db")}));
  }

  void wrongSecretIsRefused() {
    SnapshotWebDavConfig c;
    c.url = m_server.url(QStringLiteral("denied"), QStringLiteral("not-the-secret"));
    WebDavStore s(c);
    QVERIFY(!s.describe().contains(QLatin1String("not-the-secret")));
    const Status st = putBytes(s, QStringLiteral("x.db"), "x");
    qInfo().noquote() << st.toString();
    QVERIFY(!st.isOk());
    QVERIFY(!st.isRetryable());
    QVERIFY2(st.message().contains(QLatin1String("HTTP 401")), qPrintable(st.toString()));
    QVERIFY2(!st.message().contains(QLatin1String("not-the-secret")), qPrintable(st.toString()));
    QVERIFY(!QFile::exists(m_server.dataDir() + QStringLiteral("/denied/x.db")));
  }

  void serverWithoutAuthentication() {
    test::WebDavTestServer open;
    QVERIFY_OK(open.start({/*auth=*/false, /*tls=*/false}));
    WebDavStore s(open.config(QStringLiteral("anon")));
    QVERIFY(open.config(QStringLiteral("anon")).url.indexOf(QLatin1String("login")) < 0);
    QVERIFY_OK(putBytes(s, QStringLiteral("a.db"), "anonymous"));
    auto got = getBytes(s, QStringLiteral("a.db"));
    QVERIFY(got.ok() && *got == "anonymous");
  }

  void tlsIsVerified() {
    test::WebDavTestServer tls;
    QVERIFY_OK(tls.start({/*auth=*/true, /*tls=*/true}));
    SnapshotWebDavConfig c = tls.config(QStringLiteral("tls"));
    QVERIFY(c.url.startsWith(QLatin1String("https://")));
    {
      WebDavStore s(c);
      const Status st = putBytes(s, QStringLiteral("a.db"), "tls");
      qInfo().noquote() << st.toString();
      QVERIFY2(!st.isOk(), "a self-signed certificate was accepted");
      QVERIFY(!st.isRetryable());
      QVERIFY2(st.message().contains(QLatin1String("certificate"), Qt::CaseInsensitive),
               qPrintable(st.toString()));
    }
    c.insecureSkipVerify = true;
    WebDavStore s(c);
    QVERIFY_OK(putBytes(s, QStringLiteral("a.db"), "tls"));
    auto got = getBytes(s, QStringLiteral("a.db"));
    QVERIFY(got.ok() && *got == "tls");
  }

  void serverKilledMidUpload() {
    WebDavStore s(m_server.config(QStringLiteral("killed")));
    const QByteArray v1 = randomBytes(24 * kMiB);
    QVERIFY_OK(putBytes(s, QStringLiteral("snapshot.db"), v1));
    const QByteArray v2 = randomBytes(24 * kMiB + 1);
    bool killed = false;
    const Status st = test::putKillingHalfway(
        s, QStringLiteral("snapshot.db"), v2, [&] { m_server.kill(); }, &killed);
    qInfo().noquote() << st.toString();
    QVERIFY(killed);
    QVERIFY2(!st.isOk(), "a put to a killed server succeeded");
    QVERIFY2(st.isRetryable(), qPrintable(st.toString()));
    QVERIFY_OK(m_server.start());
    auto got = getBytes(s, QStringLiteral("snapshot.db"));
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    QVERIFY2(*got == v1, "the previous object changed");
    // Nothing but the object itself under its name (a temporary may remain, for retention).
    auto listed = s.list();
    QVERIFY(listed.ok());
    for (const StoreObject& o : *listed)
      QVERIFY2(o.name == QLatin1String("snapshot.db") || isTemporaryName(o.name),
               qPrintable(o.name));
  }

  // The first attempt meets a dead server; it is back before the retry.
  void retriedAfterTheServerCameBack() {
    WebDavStore s(m_server.config(QStringLiteral("retry")));
    const QByteArray v = randomBytes(kMiB);
    QVERIFY_OK(putBytes(s, QStringLiteral("r.db"), v));
    m_server.kill();
    int restarts = 0;
    auto got = test::getStartingServerOnRetry(
        s, QStringLiteral("r.db"), [&] { return m_server.start(); }, &restarts);
    QCOMPARE(restarts, 1);  // the progress callback ran during the backoff, so a retry happened
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    QVERIFY(*got == v);
  }

  // A server that accepts the connection and never answers: idle_timeout gives up.
  void silentServerTimesOut() {
    QTcpServer silent;
    QVERIFY(silent.listen(QHostAddress::LocalHost));
    SnapshotWebDavConfig c;
    c.url = QStringLiteral("http://127.0.0.1:%1/dav?dir=x").arg(silent.serverPort());
    TransferOptions t;
    t.idleTimeoutMs = 1000;
    t.retries = 0;
    WebDavStore s(c, t);
    QElapsedTimer timer;
    timer.start();
    const Status st = getBytes(s, QStringLiteral("a.db")).status();
    qInfo().noquote() << st.toString() << "after" << timer.elapsed() << "ms";
    QCOMPARE(st.code(), Status::Code::kTimeout);
    QVERIFY2(timer.elapsed() < 30000, "the idle timeout did not end the request");
  }
};

QTEST_GUILESS_MAIN(TestWebDavStore)
#include "tst_webdav_store.moc"
