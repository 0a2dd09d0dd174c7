// A real S3 server for the S3 store tests: @20minutes/s3rver (it checks AWS signature v4 and
// answers a wrong secret with 403 SignatureDoesNotMatch), installed into the build tree by
// tests/interop/setup.sh from the pinned lock file and run with node on a free loopback port
// over a temporary data directory. Its credentials are fixed: S3RVER / S3RVER.
// Needs HL_INTEROP_SETUP and HL_INTEROP_NODE_DIR (tests/CMakeLists.txt).
#pragma once

#include <QDir>
#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>

#include <memory>

#include "harmonylite/config.h"
#include "harmonylite/status.h"
#include "test_support.h"

namespace hl::test {

class S3TestServer {
 public:
  static constexpr const char* kAccessKey = "S3RVER";
  static constexpr const char* kSecret = "S3RVER";

  ~S3TestServer() { kill(); }

  // Installs s3rver once (npm ci of the pinned lock file), then starts it serving `bucket`.
  // A second start() after kill() serves the same data directory on the same port.
  hl::Status start(const QString& bucket = QStringLiteral("snapshots")) {
    if (m_nodeDir.isEmpty()) {
      const QString dir = QStringLiteral(HL_INTEROP_NODE_DIR);
      const ProcessResult r =
          runProcess(QStringLiteral("bash"), {QStringLiteral(HL_INTEROP_SETUP), dir}, 600000);
      if (r.exitCode != 0 || r.timedOut)
        return hl::Status::unavailable(
            QStringLiteral("s3rver could not be installed (tests/interop/setup.sh %1): exit %2\n%3")
                .arg(dir)
                .arg(r.exitCode)
                .arg(QString::fromUtf8(r.err + r.out)));
      m_nodeDir = dir;
      if (!m_data.isValid()) return hl::Status::ioError(QStringLiteral("no temporary directory"));
      m_port = freePort();
    }
    m_bucket = bucket;
    QStringList tlsArgs;
    if (m_tls) {
      const QString cert = m_certDir.filePath(QStringLiteral("cert.pem"));
      const QString key = m_certDir.filePath(QStringLiteral("key.pem"));
      HL_RETURN_IF_ERROR(makeSelfSignedCert(cert, key));
      tlsArgs = {QStringLiteral("--cert"), cert, QStringLiteral("--key"), key};
    }
    m_process = std::make_unique<QProcess>();
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    dieWithTest(*m_process);
    m_process->start(
        QStringLiteral("node"),
        QStringList{m_nodeDir + QStringLiteral("/s3rver.cjs"), QStringLiteral("-d"), m_data.path(),
                    QStringLiteral("-a"), QStringLiteral("127.0.0.1"), QStringLiteral("-p"),
                    QString::number(m_port), QStringLiteral("-s"),
                    // Virtual-host requests: <bucket>.s3.localhost:<port> (curl resolves
                    // every *.localhost name to the loopback address itself).
                    QStringLiteral("--service-endpoint"), QStringLiteral("localhost"),
                    QStringLiteral("--configure-bucket"), bucket} +
            tlsArgs);
    if (!m_process->waitForStarted(10000))
      return hl::Status::unavailable(QStringLiteral("node s3rver.cjs did not start: ") +
                                     m_process->errorString());
    QElapsedTimer t;
    t.start();
    QByteArray out;
    while (t.elapsed() < 30000) {
      m_process->waitForReadyRead(100);
      out += m_process->readAll();
      if (out.contains("listening")) return hl::Status::ok();
      if (m_process->state() == QProcess::NotRunning) break;
    }
    return hl::Status::unavailable(QStringLiteral("s3rver did not start on port %1: %2")
                                       .arg(m_port)
                                       .arg(QString::fromUtf8(out)));
  }

  // SIGKILL, no goodbye: the crash of the server mid-transfer.
  void kill() {
    if (!m_process) return;
    if (m_process->state() != QProcess::NotRunning) {
      m_process->kill();
      m_process->waitForFinished(10000);
    }
    m_process.reset();
  }

  QString endpoint() const { return QStringLiteral("127.0.0.1:%1").arg(m_port); }
  // The endpoint for virtual-host addressing (the bucket becomes <bucket>.s3.localhost).
  QString virtualHostEndpoint() const { return QStringLiteral("s3.localhost:%1").arg(m_port); }
  QString dataDir() const { return m_data.path(); }

  // https with a self-signed certificate for 127.0.0.1; call before start().
  void setTls(bool tls) { m_tls = tls; }

  hl::SnapshotS3Config config(const QString& path) const {
    hl::SnapshotS3Config c;
    c.useSsl = m_tls;
    c.endpoint = endpoint();
    c.bucket = m_bucket;
    c.path = path;
    c.accessKey = QString::fromLatin1(kAccessKey);
    c.secret = QString::fromLatin1(kSecret);
    return c;
  }

 private:
  QString m_nodeDir;
  QTemporaryDir m_data;
  int m_port = 0;
  QString m_bucket;
  bool m_tls = false;
  QTemporaryDir m_certDir;  // outside the data directory s3rver serves
  std::unique_ptr<QProcess> m_process;
};

}  // namespace hl::test
