// The SFTP store against a real OpenSSH sshd (sftp_test_server.h), beyond the conformance cases
// of tst_snapshot_stores: the server's files are what we wrote and we read what is there; key
// login works and a wrong key or password is refused without the secret in the message; the
// host key is checked: a missing known-hosts file, an unknown key and a changed key are all
// refused with the key's SHA256 fingerprint in the message (as `ssh-keygen -lf` prints it) and
// nothing is written; a server killed mid-upload leaves the previous object whole; a request
// is retried once the server is back.
#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QtTest>

#include "sftp_test_server.h"
#include "snapshot/sftp_store.h"
#include "store_test_util.h"
#include "test_support.h"

using namespace hl;
using test::getBytes;
using test::kMiB;
using test::putBytes;
using test::randomBytes;

class TestSftpStore : public QObject {
  Q_OBJECT

  test::SftpTestServer m_server;

  QString onServer(const QString& path) const { return m_server.dataDir() + '/' + path; }

  // A refused connection: not retryable, names the fingerprint, and wrote nothing.
  void verifyRefused(const SnapshotSftpConfig& c, const QString& dir, const char* word) {
    SftpStore s(c);
    const Status st = putBytes(s, QStringLiteral("x.db"), "x");
    qInfo().noquote() << st.toString();
    QVERIFY(!st.isOk());
    QVERIFY(!st.isRetryable());
    QVERIFY2(st.message().contains(m_server.hostKeyFingerprint()), qPrintable(st.toString()));
    QVERIFY2(st.message().contains(QLatin1String(word)), qPrintable(st.toString()));
    QVERIFY2(st.message().contains(QLatin1String("ED25519")), qPrintable(st.toString()));
    QVERIFY(!QFileInfo::exists(onServer(dir)));
  }

 private slots:
  void initTestCase() {
    if (geteuid() != 0) QSKIP("the sshd fixture needs root (sftp_test_server.h)");
    const Status st = m_server.start();
    QVERIFY2(st.isOk(), qPrintable(st.toString()));
  }

  void serverFilesAgree() {
    SftpStore s(m_server.config(QStringLiteral("agree")));
    QVERIFY(!s.describe().contains(QLatin1String(test::SftpTestServer::kPassword)));
    const QByteArray mine = randomBytes(3 * kMiB + 5);
    QVERIFY_OK(putBytes(s, QStringLiteral("snapshots/mine.db"), mine));
    QFile f(onServer(QStringLiteral("agree/snapshots/mine.db")));
    QVERIFY(f.open(QIODevice::ReadOnly));
    QVERIFY(f.readAll() == mine);
    QCOMPARE(int(f.permissions() & (QFile::ReadOther | QFile::WriteOther)), 0);  // 0640
    const QByteArray theirs = randomBytes(777);
    QVERIFY(test::writeFile(onServer(QStringLiteral("agree/theirs.db")), theirs));
    auto got = getBytes(s, QStringLiteral("theirs.db"));
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    QVERIFY(*got == theirs);
    auto listed = s.list();
    QVERIFY2(listed.ok(), qPrintable(listed.status().toString()));
    QCOMPARE(listed->size(), 2);
    for (const StoreObject& o : *listed) {
      const QFileInfo fi(onServer(QStringLiteral("agree/") + o.name));
      QCOMPARE(o.size, fi.size());
      QCOMPARE(o.modified.toSecsSinceEpoch(), fi.lastModified().toSecsSinceEpoch());
    }
  }

  void keyLogin() {
    SnapshotSftpConfig c = m_server.keyConfig(QStringLiteral("bykey"));
    QVERIFY(QUrl(c.url).password().isEmpty());
    SftpStore s(c);
    QVERIFY_OK(putBytes(s, QStringLiteral("k.db"), "by key"));
    auto got = getBytes(s, QStringLiteral("k.db"));
    QVERIFY(got.ok() && *got == "by key");
  }

  void wrongCredentialsAreRefused() {
    SnapshotSftpConfig c = m_server.config(QStringLiteral("wrongpw"));
    c.url.replace(QLatin1String(test::SftpTestServer::kPassword), QLatin1String("wrong-pw-value"));
    {
      SftpStore s(c);
      QVERIFY(!s.describe().contains(QLatin1String("wrong-pw-value")));
      const Status st = putBytes(s, QStringLiteral("x.db"), "x");
      qInfo().noquote() << st.toString();
      QVERIFY(!st.isOk());
      QVERIFY(!st.isRetryable());
      QVERIFY2(!st.message().contains(QLatin1String("wrong-pw-value")), qPrintable(st.toString()));
    }
    // A key the server does not know.
    const test::ProcessResult k =
        test::runProcess(QStringLiteral("ssh-keygen"),
                         {"-q", "-t", "ed25519", "-N", "", "-f", m_server.path("stranger_key")});
    QCOMPARE(k.exitCode, 0);
    SnapshotSftpConfig byKey = m_server.keyConfig(QStringLiteral("wrongkey"));
    byKey.keyFile = m_server.path("stranger_key");
    SftpStore s(byKey);
    const Status st = putBytes(s, QStringLiteral("x.db"), "x");
    qInfo().noquote() << st.toString();
    QVERIFY(!st.isOk());
    QVERIFY(!st.isRetryable());
    QVERIFY(!QFileInfo::exists(onServer(QStringLiteral("wrongkey"))));
  }

  void unknownHostKeyIsRefused() {
    SnapshotSftpConfig c = m_server.config(QStringLiteral("unknown"));
    c.knownHosts = m_server.path("empty_known_hosts");
    QVERIFY(test::writeFile(c.knownHosts, "# nothing here\n"));
    verifyRefused(c, QStringLiteral("unknown"), "unknown");
    // No known-hosts file at all: the same.
    c.knownHosts = m_server.path("no_such_known_hosts");
    verifyRefused(c, QStringLiteral("unknown"), "unknown");
  }

  void changedHostKeyIsRefused() {
    SftpStore before(m_server.config(QStringLiteral("changed")));
    QVERIFY_OK(putBytes(before, QStringLiteral("a.db"), "before"));
    m_server.kill();
    QVERIFY_OK(m_server.newHostKey());
    QVERIFY_OK(m_server.start());
    verifyRefused(m_server.config(QStringLiteral("changed2")), QStringLiteral("changed2"),
                  "changed");
    QCOMPARE(m_server.hostKeyFingerprint().left(7), QStringLiteral("SHA256:"));
  }

  void serverKilledMidUpload() {
    // The host key changed in the case before: trust the current one.
    const test::ProcessResult scan =
        test::runProcess(QStringLiteral("ssh-keyscan"),
                         {"-p", QString::number(m_server.port()), "-t", "ed25519", "127.0.0.1"});
    QVERIFY(test::writeFile(m_server.knownHostsFile(), scan.out));
    SftpStore s(m_server.config(QStringLiteral("killed")));
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
    QFile f(onServer(QStringLiteral("killed/snapshot.db")));
    QVERIFY(f.open(QIODevice::ReadOnly));
    QVERIFY2(f.readAll() == v1, "the previous object changed");
    QVERIFY_OK(m_server.start());
    auto got = getBytes(s, QStringLiteral("snapshot.db"));
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    QVERIFY(*got == v1);
  }

  void retriedAfterTheServerCameBack() {
    SftpStore s(m_server.config(QStringLiteral("retry")));
    const QByteArray v = randomBytes(kMiB);
    QVERIFY_OK(putBytes(s, QStringLiteral("r.db"), v));
    m_server.kill();
    int restarts = 0;
    auto got = test::getStartingServerOnRetry(
        s, QStringLiteral("r.db"), [&] { return m_server.start(); }, &restarts);
    QCOMPARE(restarts, 1);
    QVERIFY2(got.ok(), qPrintable(got.status().toString()));
    QVERIFY(*got == v);
  }
};

QTEST_GUILESS_MAIN(TestSftpStore)
#include "tst_sftp_store.moc"
