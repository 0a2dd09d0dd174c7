// NATS security options end to end (docs/replication.md#nats, docs/configuration.md [nats]
// user_name/user_password, seed_file, ca_file/cert_file/key_file): real nats-server processes that
// demand credentials, real harmonylite nodes that present them and replicate a row, and nodes with
// wrong or missing credentials that must fail to start with one clear line, without leaking the
// secret.
#include <QDir>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include "nats/nkey.h"
#include "node_process.h"
#include "test_support.h"

using namespace hl;
using test::NodeProcess;

namespace {

constexpr int kConverge = 60000;
const char* const kPassword = "s3cret-pw";

QString quoted(const QString& s) {
  return '"' + s + '"';
}

// One Books row, the same on every node, for the replication checks.
QString bookQuery(int id) {
  return QStringLiteral(
             "SELECT ifnull((SELECT id || '|' || title || '|' || author FROM Books WHERE id = %1), "
             "'')")
      .arg(id);
}

// Runs the openssl program; the failure message carries its output.
Status openssl(const QStringList& args, const QString& dir) {
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("RANDFILE", dir + "/.rnd");
  const test::ProcessResult r = test::runProcess("openssl", args, 60000, env);
  if (r.exitCode == 0 && !r.crashed && !r.timedOut) return Status::ok();
  return Status::internal("openssl " + args.join(' ') + " failed:\n" +
                          QString::fromUtf8(r.out + r.err));
}

// A private CA, a server certificate for 127.0.0.1 and a client certificate, made with the
// openssl program in `dir`, with a self-contained config file (no dependence on the system's
// openssl.cnf).
struct Pki {
  QString ca, caKey, serverCert, serverKey, clientCert, clientKey, otherCa;
};

Status makePki(const QString& dir, Pki* pki) {
  const QString cnf = dir + "/openssl.cnf";
  test::writeFile(cnf,
                  "[req]\n"
                  "distinguished_name = dn\n"
                  "prompt = no\n"
                  "[dn]\n"
                  "CN = unused\n"
                  "[ca_ext]\n"
                  "basicConstraints = critical,CA:TRUE\n"
                  "keyUsage = critical,keyCertSign,cRLSign\n"
                  "subjectKeyIdentifier = hash\n"
                  "[server_ext]\n"
                  "basicConstraints = CA:FALSE\n"
                  "keyUsage = critical,digitalSignature,keyEncipherment\n"
                  "extendedKeyUsage = serverAuth\n"
                  "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
                  "[client_ext]\n"
                  "basicConstraints = CA:FALSE\n"
                  "keyUsage = critical,digitalSignature,keyEncipherment\n"
                  "extendedKeyUsage = clientAuth\n"
                  "subjectAltName = DNS:hl-node\n");
  pki->ca = dir + "/ca.pem";
  pki->caKey = dir + "/ca.key";
  pki->serverCert = dir + "/server.pem";
  pki->serverKey = dir + "/server.key";
  pki->clientCert = dir + "/client.pem";
  pki->clientKey = dir + "/client.key";
  pki->otherCa = dir + "/other-ca.pem";
  auto makeCa = [&](const QString& cert, const QString& key, const QString& cn) {
    return openssl({"req", "-x509", "-config", cnf, "-extensions", "ca_ext", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn},
                   dir);
  };
  auto makeLeaf = [&](const QString& name, const QString& cn, const QString& ext) -> Status {
    const QString key = dir + "/" + name + ".key", csr = dir + "/" + name + ".csr";
    HL_RETURN_IF_ERROR(openssl({"req", "-new", "-config", cnf, "-newkey", "rsa:2048", "-nodes",
                                "-keyout", key, "-out", csr, "-subj", "/CN=" + cn},
                               dir));
    return openssl(
        {"x509", "-req", "-in", csr, "-CA", pki->ca, "-CAkey", pki->caKey, "-CAcreateserial",
         "-out", dir + "/" + name + ".pem", "-days", "2", "-extfile", cnf, "-extensions", ext},
        dir);
  };
  HL_RETURN_IF_ERROR(makeCa(pki->ca, pki->caKey, "hl-test-ca"));
  HL_RETURN_IF_ERROR(makeCa(pki->otherCa, dir + "/other-ca.key", "hl-test-other-ca"));
  HL_RETURN_IF_ERROR(makeLeaf("server", "127.0.0.1", "server_ext"));
  HL_RETURN_IF_ERROR(makeLeaf("client", "hl-node", "client_ext"));
  return Status::ok();
}

// An NKey user seed made from fresh random bytes, and its public key.
struct NKey {
  QByteArray seed;
  QByteArray publicKey;
};

NKey makeNKey() {
  QByteArray raw(32, Qt::Uninitialized);
  QRandomGenerator::system()->fillRange(reinterpret_cast<quint32*>(raw.data()), raw.size() / 4);
  NKey k;
  k.seed = nkeyEncodeUserSeed(raw);
  auto pub = nkeyPublicKeyFromSeed(k.seed);
  if (pub) k.publicKey = *pub;
  return k;
}

}  // namespace

// A server that requires user "hl" with kPassword.
static test::NatsServer::Options passwordServerOptions() {
  test::NatsServer::Options so;
  so.extraConfig =
      QStringLiteral("authorization {\n  user: \"hl\"\n  password: \"%1\"\n}\n").arg(kPassword);
  return so;
}

class TestSecurity : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  int m_nextId = 1;

  NodeProcess::Options options(const QString& url, const QString& natsToml) {
    NodeProcess::Options o;
    o.nodeId = uint64_t(m_nextId++);
    o.dir = m_dir.filePath(QStringLiteral("node%1").arg(o.nodeId));
    o.urls = {url};
    o.natsToml = natsToml;
    // Debug logging too: a secret must not leak at any level.
    o.tablesToml = "[logging]\nverbose = true";
    o.shards = 2;
    o.compress = true;
    return o;
  }

  // Starts both nodes (each is a client of the server at `url`) and proves that a row written on
  // either one reaches the other.
  void startPairAndReplicate(NodeProcess& a, NodeProcess& b) {
    QVERIFY(a.launch().isOk());
    QVERIFY(b.launch().isOk());
    for (NodeProcess* n : {&a, &b}) {
      const Status s = n->waitRunning(60000);
      QVERIFY2(s.isOk(), qPrintable(s.message()));
    }
    bool ok = false;
    a.sql("INSERT INTO Books(id, title, author) VALUES (1, 'Secured', 'Node A')", &ok);
    QVERIFY(ok);
    QVERIFY2(test::waitConverged({&a, &b}, bookQuery(1), kConverge, "1|Secured|Node A"),
             qPrintable(b.sql(bookQuery(1)) + "\n" + b.log().right(3000)));
    b.sql("INSERT INTO Books(id, title, author) VALUES (2, 'Answer', 'Node B')", &ok);
    QVERIFY(ok);
    QVERIFY2(test::waitConverged({&a, &b}, bookQuery(2), kConverge, "2|Answer|Node B"),
             qPrintable(a.sql(bookQuery(2)) + "\n" + a.log().right(3000)));
  }

  // A node that must not start: it exits non-zero by itself, its log has one "start-up failed:"
  // line, and that line is returned for further checks.
  QString expectStartFailure(NodeProcess& node) {
    if (!node.launch().isOk()) return "<launch failed>";
    const Status s = node.waitRunning(60000);
    if (s.isOk()) return "<node started>";
    if (!test::waitFor([&] { return !node.isRunning(); }, 30000)) return "<node did not exit>";
    const int rc = node.stop();
    if (rc == 0) return "<exit code 0>";
    const QStringList lines = node.log().split('\n');
    QStringList failed;
    for (const QString& l : lines)
      if (l.contains("start-up failed:")) failed << l;
    if (failed.size() != 1)
      return "<" + QString::number(failed.size()) + " start-up failed lines>\n" + node.log();
    qInfo().noquote() << "node" << node.nodeId() << "exit code" << rc << ":" << failed.first();
    return failed.first();
  }

 private slots:
  void initTestCase() { QVERIFY(m_dir.isValid()); }

  // Server with `authorization { user, password }`: two nodes with the right credentials
  // replicate both ways, and the password never shows up in their logs.
  void userPasswordReplicates() {
    test::NatsServer server(passwordServerOptions());
    const Status started = server.start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    const QString creds =
        QStringLiteral("user_name = \"hl\"\nuser_password = \"%1\"").arg(kPassword);
    NodeProcess a(options(server.url(), creds));
    NodeProcess b(options(server.url(), creds));
    startPairAndReplicate(a, b);
    if (QTest::currentTestFailed()) return;
    QCOMPARE(a.stop(), 0);
    QCOMPARE(b.stop(), 0);
    for (NodeProcess* n : {&a, &b}) {
      QVERIFY2(n->log().contains("connected to"), qPrintable(n->log()));
      QVERIFY2(!n->log().contains(kPassword), qPrintable(n->log()));
    }
  }

  void specialCharacterPassword_data() {
    QTest::addColumn<QString>("password");
    QTest::newRow("double quote") << QStringLiteral("pa\"ss-w0rd");
    QTest::newRow("backslash") << QStringLiteral("pa\\ss-w0rd");
    QTest::newRow("both, at the ends") << QStringLiteral("\"\\mixed-pw\\\"");
  }

  // A password with '"' or '\' (issue 15): nats.c 3.4.1 sends it unescaped in its CONNECT JSON,
  // which the server cannot parse; the node escapes it. Two nodes against an external server
  // whose config holds the password (nats-server's own quoting) replicate, and a node with its
  // embedded server (whose generated config holds it) starts and publishes; the password is not
  // logged.
  void specialCharacterPassword() {
    QFETCH(QString, password);
    auto natsQuoted = [](QString s) {
      return '"' + s.replace('\\', QStringLiteral("\\\\")).replace('"', QStringLiteral("\\\"")) +
             '"';
    };
    test::NatsServer::Options so;
    so.extraConfig = QStringLiteral("authorization {\n  user: \"hl\"\n  password: %1\n}\n")
                         .arg(natsQuoted(password));
    test::NatsServer server(so);
    const Status started = server.start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    // TOML basic strings escape like JSON.
    const QString creds =
        QStringLiteral("user_name = \"hl\"\nuser_password = %1\nconnect_retries = 2")
            .arg(natsQuoted(password));
    NodeProcess a(options(server.url(), creds));
    NodeProcess b(options(server.url(), creds));
    startPairAndReplicate(a, b);
    if (QTest::currentTestFailed()) return;
    QCOMPARE(a.stop(), 0);
    QCOMPARE(b.stop(), 0);

    NodeProcess::Options eo = options(QString(), creds);
    eo.urls = {};  // its embedded server, configured with the password
    NodeProcess e(eo);
    const Status s = e.start(60000);
    QVERIFY2(s.isOk(), qPrintable(s.message() + "\n" + e.log()));
    bool ok = false;
    e.sql("INSERT INTO Books(id, title, author) VALUES (3, 'Embedded', 'Node E')", &ok);
    QVERIFY(ok);
    // Published: nothing stays pending (the capture log drains only through an acked publish).
    QVERIFY2(
        test::waitFor(
            [&] {
              return e.sql("SELECT count(*) FROM __harmonylite__changes WHERE state IS NULL") ==
                     "0";
            },
            kConverge),
        qPrintable(e.log().right(3000)));
    QCOMPARE(e.stop(), 0);
    for (NodeProcess* n : {&a, &b, &e}) {
      QVERIFY2(n->log().contains("connected to"), qPrintable(n->log()));
      QVERIFY2(!n->log().contains(password), qPrintable(n->log()));
    }
  }

  void wrongCredentialsFailStartUp_data() {
    QTest::addColumn<QString>("natsToml");
    QTest::addColumn<QString>("secret");
    QTest::newRow("wrong password") << "user_name = \"hl\"\nuser_password = \"wrong-pw-4711\""
                                    << "wrong-pw-4711";
    QTest::newRow("unknown user") << "user_name = \"intruder\"\nuser_password = \"guess-pw-0815\""
                                  << "guess-pw-0815";
    QTest::newRow("no credentials") << QString() << QString();
  }

  // Wrong or missing credentials: the node exits non-zero after connect_retries attempts with
  // one "start-up failed:" line naming the authorization failure, and never prints the password.
  void wrongCredentialsFailStartUp() {
    QFETCH(QString, natsToml);
    QFETCH(QString, secret);
    test::NatsServer server(passwordServerOptions());
    const Status started = server.start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    NodeProcess node(options(server.url(), natsToml + "\nconnect_retries = 1"));
    const QString line = expectStartFailure(node);
    QVERIFY2(line.contains("start-up failed:"), qPrintable(line + "\n" + node.log()));
    QVERIFY2(line.contains("auth", Qt::CaseInsensitive), qPrintable(line));
    QVERIFY2(line.contains(server.url()), qPrintable(line));  // names what it tried to reach
    if (!secret.isEmpty()) QVERIFY2(!node.log().contains(secret), qPrintable(node.log()));
    QVERIFY(!node.log().contains(kPassword));
  }

  // Mutual TLS: a server that requires a client certificate signed by our CA. Two nodes with
  // ca_file/cert_file/key_file replicate; a node with only the CA (no client certificate), and
  // a node that does not trust the server's CA, fail to start with a clear line.
  void mutualTlsReplicates() {
    QTemporaryDir pkiDir;
    QVERIFY(pkiDir.isValid());
    Pki pki;
    const Status made = makePki(pkiDir.path(), &pki);
    QVERIFY2(made.isOk(), qPrintable(made.message()));

    test::NatsServer::Options so;
    so.extraConfig =
        QStringLiteral(
            "tls {\n  cert_file: \"%1\"\n  key_file: \"%2\"\n  ca_file: \"%3\"\n  verify: true\n"
            "  timeout: 5\n}\n")
            .arg(pki.serverCert, pki.serverKey, pki.ca);
    test::NatsServer server(so);
    const Status started = server.start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    const QString url = QStringLiteral("tls://127.0.0.1:%1").arg(server.port());

    const QString tls = QStringLiteral("ca_file = %1\ncert_file = %2\nkey_file = %3")
                            .arg(quoted(pki.ca), quoted(pki.clientCert), quoted(pki.clientKey));
    NodeProcess a(options(url, tls));
    NodeProcess b(options(url, tls));
    startPairAndReplicate(a, b);
    if (QTest::currentTestFailed()) return;
    // The server saw verified TLS clients (its log names the client certificate's subject only
    // at trace level, so ask the monitoring endpoint instead).
    QByteArray connz;
    QCOMPARE(test::httpGet(server.monitorPort(), "/connz?subs=0", &connz), 200);
    QVERIFY2(connz.contains("\"tls_version\""), connz.constData());
    QVERIFY2(connz.contains("harmonylite-node-"), connz.constData());

    // Without a client certificate the server refuses the handshake.
    NodeProcess noCert(
        options(url, QStringLiteral("ca_file = %1\nconnect_retries = 1").arg(quoted(pki.ca))));
    const QString line = expectStartFailure(noCert);
    QVERIFY2(line.contains("start-up failed:"), qPrintable(line + "\n" + noCert.log()));
    QVERIFY2(line.contains(url), qPrintable(line));
    // The cause, after the URL (which says "tls" by itself): a TLS/certificate problem. The
    // server logs "TLS handshake error: tls: client didn't provide a certificate"; nats.c only
    // sees the connection closed after the TLS 1.3 handshake.
    const QString cause = line.mid(line.indexOf(url) + url.size());
    const QRegularExpression tlsCause("SSL|TLS|certificate|handshake|cert_file",
                                      QRegularExpression::CaseInsensitiveOption);
    QVERIFY2(cause.contains(tlsCause), qPrintable(line));

    // A node that trusts another CA rejects the server's certificate.
    NodeProcess wrongCa(options(
        url, QStringLiteral("ca_file = %1\ncert_file = %2\nkey_file = %3\nconnect_retries = 1")
                 .arg(quoted(pki.otherCa), quoted(pki.clientCert), quoted(pki.clientKey))));
    const QString line2 = expectStartFailure(wrongCa);
    QVERIFY2(line2.contains("start-up failed:"), qPrintable(line2 + "\n" + wrongCa.log()));
    QVERIFY2(line2.contains(url), qPrintable(line2));
    QVERIFY2(line2.mid(line2.indexOf(url) + url.size()).contains(tlsCause), qPrintable(line2));

    QCOMPARE(a.stop(), 0);
    QCOMPARE(b.stop(), 0);
  }

  // NKey authentication: the server knows only the public keys, derived here from the seeds
  // with hl::nkeyPublicKeyFromSeed; it verifies each node's signature against them, so a node
  // that starts proves both the seed file handling and the public key derivation. A node with a
  // seed the server does not know fails to start, and no seed is ever logged.
  void nkeyReplicates() {
    const NKey k1 = makeNKey(), k2 = makeNKey(), stranger = makeNKey();
    for (const NKey& k : {k1, k2, stranger}) {
      QVERIFY2(k.seed.startsWith("SU") && k.seed.size() == 58, k.seed.constData());
      QVERIFY2(k.publicKey.startsWith('U') && k.publicKey.size() == 56, k.publicKey.constData());
    }
    QVERIFY(k1.publicKey != k2.publicKey);

    test::NatsServer::Options so;
    so.extraConfig =
        QStringLiteral(
            "authorization {\n  users: [\n    { nkey: \"%1\" }\n    { nkey: \"%2\" }\n  ]\n}\n")
            .arg(QString::fromLatin1(k1.publicKey), QString::fromLatin1(k2.publicKey));
    test::NatsServer server(so);
    const Status started = server.start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));

    QTemporaryDir keys;
    QVERIFY(keys.isValid());
    auto seedFile = [&](const char* name, const NKey& k) {
      const QString path = keys.filePath(name);
      test::writeFile(path, k.seed + "\n");
      QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner);
      return path;
    };
    NodeProcess a(options(server.url(), "seed_file = " + quoted(seedFile("a.nk", k1))));
    NodeProcess b(options(server.url(), "seed_file = " + quoted(seedFile("b.nk", k2))));
    startPairAndReplicate(a, b);
    if (QTest::currentTestFailed()) return;

    NodeProcess c(options(server.url(), "seed_file = " + quoted(seedFile("c.nk", stranger)) +
                                            "\nconnect_retries = 1"));
    const QString line = expectStartFailure(c);
    QVERIFY2(line.contains("start-up failed:"), qPrintable(line + "\n" + c.log()));
    QVERIFY2(line.contains("auth", Qt::CaseInsensitive), qPrintable(line));

    QCOMPARE(a.stop(), 0);
    QCOMPARE(b.stop(), 0);
    for (NodeProcess* n : {&a, &b, &c})
      for (const NKey& k : {k1, k2, stranger})
        QVERIFY2(!n->log().contains(QString::fromLatin1(k.seed)), "seed logged");
  }
};

QTEST_GUILESS_MAIN(TestSecurity)
#include "tst_security.moc"
