// A real WebDAV server for the WebDAV store tests: Debian's lighttpd with mod_webdav (and
// mod_auth with a plain user file when authentication is on, mod_openssl with a self-signed
// certificate for 127.0.0.1 when TLS is on), on a free loopback port, serving a temporary
// directory under /dav. Installed by scripts/install-deps.sh (lighttpd, lighttpd-mod-webdav,
// lighttpd-mod-openssl).
#pragma once

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <memory>

#include "harmonylite/config.h"
#include "harmonylite/status.h"
#include "test_support.h"

namespace hl::test {

struct WebDavTestOptions {
  bool auth = true;  // Basic authentication with kLogin/kSecret
  bool tls = false;  // https with a self-signed certificate
};

class WebDavTestServer {
 public:
  static constexpr const char* kLogin = "snapshotter";
  static constexpr const char* kSecret = "dav-s3cret";
  using Options = WebDavTestOptions;

  ~WebDavTestServer() { kill(); }

  // Writes the configuration (once) and starts lighttpd. A start() after kill() serves the same
  // directory on the same port.
  hl::Status start(Options options = {}) {
    const QString lighttpd = QStandardPaths::findExecutable(
        QStringLiteral("lighttpd"), {QStringLiteral("/usr/sbin"), QStringLiteral("/usr/bin")});
    if (lighttpd.isEmpty())
      return hl::Status::unavailable(
          QStringLiteral("lighttpd is not installed (scripts/install-deps.sh installs it)"));
    if (m_port == 0) {
      if (!m_dir.isValid()) return hl::Status::ioError(QStringLiteral("no temporary directory"));
      m_options = options;
      m_port = freePort();
      QDir(m_dir.path()).mkpath(QStringLiteral("root/dav"));
      QDir(m_dir.path()).mkpath(QStringLiteral("uploads"));
      writeFile(m_dir.filePath(QStringLiteral("users")),
                QByteArray(kLogin) + ':' + QByteArray(kSecret) + '\n');
      QByteArray conf;
      conf += "server.modules = (\"mod_webdav\", \"mod_auth\", \"mod_authn_file\"" +
              QByteArray(options.tls ? ", \"mod_openssl\"" : "") + ")\n";
      conf += "server.document-root = \"" + m_dir.filePath("root").toUtf8() + "\"\n";
      conf += "server.upload-dirs = (\"" + m_dir.filePath("uploads").toUtf8() + "\")\n";
      conf += "server.bind = \"127.0.0.1\"\nserver.port = " + QByteArray::number(m_port) + "\n";
      conf += "server.errorlog = \"" + m_dir.filePath("error.log").toUtf8() + "\"\n";
      conf += "webdav.activate = \"enable\"\nwebdav.is-readonly = \"disable\"\n";
      conf += "webdav.sqlite-db-name = \"" + m_dir.filePath("locks.db").toUtf8() + "\"\n";
      if (options.auth) {
        conf += "auth.backend = \"plain\"\n";
        conf += "auth.backend.plain.userfile = \"" + m_dir.filePath("users").toUtf8() + "\"\n";
        conf +=
            "auth.require = (\"/\" => (\"method\" => \"basic\", \"realm\" => \"hl\", "
            "\"require\" => \"valid-user\"))\n";
      }
      if (options.tls) {
        const QString cert = m_dir.filePath(QStringLiteral("cert.pem"));
        const QString key = m_dir.filePath(QStringLiteral("key.pem"));
        HL_RETURN_IF_ERROR(makeSelfSignedCert(cert, key));
        conf += "ssl.engine = \"enable\"\nssl.pemfile = \"" + cert.toUtf8() +
                "\"\nssl.privkey = \"" + key.toUtf8() + "\"\n";
      }
      writeFile(m_dir.filePath(QStringLiteral("lighttpd.conf")), conf);
    }
    m_process = std::make_unique<QProcess>();
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    dieWithTest(*m_process);
    m_process->start(lighttpd, {QStringLiteral("-D"), QStringLiteral("-f"),
                                m_dir.filePath(QStringLiteral("lighttpd.conf"))});
    if (!m_process->waitForStarted(10000))
      return hl::Status::unavailable(QStringLiteral("lighttpd did not start: ") +
                                     m_process->errorString());
    if (!waitListening(*m_process, m_port, 15000, 50)) {
      QFile log(m_dir.filePath(QStringLiteral("error.log")));
      (void)log.open(QIODevice::ReadOnly);
      return hl::Status::unavailable(
          QStringLiteral("lighttpd did not listen on %1: %2 %3")
              .arg(m_port)
              .arg(QString::fromUtf8(m_process->readAll()), QString::fromUtf8(log.readAll())));
    }
    return hl::Status::ok();
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

  // The store URL in Go's form: <scheme>://127.0.0.1:<port>/dav?dir=<dir>[&login=&secret=].
  QString url(const QString& dir, const QString& secret = QString::fromLatin1(kSecret)) const {
    QString u = QStringLiteral("%1://127.0.0.1:%2/dav?dir=%3")
                    .arg(m_options.tls ? "https" : "http")
                    .arg(m_port)
                    .arg(dir);
    if (m_options.auth)
      u += QStringLiteral("&login=%1&secret=%2").arg(QLatin1String(kLogin), secret);
    return u;
  }

  hl::SnapshotWebDavConfig config(const QString& dir) const {
    hl::SnapshotWebDavConfig c;
    c.url = url(dir);
    return c;
  }

  // Where object "x" of store dir "d" lies: <dataDir>/d/x.
  QString dataDir() const { return m_dir.filePath(QStringLiteral("root/dav")); }
  int port() const { return m_port; }

 private:
  QTemporaryDir m_dir;
  Options m_options;
  int m_port = 0;
  std::unique_ptr<QProcess> m_process;
};

}  // namespace hl::test
