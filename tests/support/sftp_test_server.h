// A real SFTP server for the SFTP store tests: Debian's OpenSSH sshd (openssh-server, installed
// by scripts/install-deps.sh) on a free loopback port with its own ed25519 host key, password
// and public-key authentication, and the internal-sftp subsystem.
//
// Password logins check /etc/shadow, which a test must not change. So sshd runs in a private
// mount namespace (unshare --mount) where copies of /etc/passwd and /etc/shadow, with a known
// password for root, are bind-mounted over the real ones, and a private tmpfs on /run gives it
// its privilege-separation directory: nothing of the host changes. That needs root (CAP_SYS_ADMIN);
// elsewhere start() says why it cannot run and the tests skip with that message.
#pragma once

#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <memory>

#include "harmonylite/config.h"
#include "harmonylite/status.h"
#include "test_support.h"

namespace hl::test {

class SftpTestServer {
 public:
  static constexpr const char* kUser = "root";
  static constexpr const char* kPassword = "sftp-s3cret";

  ~SftpTestServer() { kill(); }

  // Makes keys and configuration (once) and starts sshd. A start() after kill() serves the same
  // directory on the same port, with the same host key unless newHostKey() was called.
  hl::Status start() {
    const QString sshd = QStringLiteral("/usr/sbin/sshd");
    if (!QFile::exists(sshd))
      return hl::Status::unavailable(
          QStringLiteral("OpenSSH sshd is not installed (scripts/install-deps.sh installs it)"));
    if (geteuid() != 0)
      return hl::Status::unavailable(QStringLiteral(
          "the sshd fixture needs root: it mounts its own passwd/shadow in a private mount "
          "namespace"));
    if (m_port == 0) {
      if (!m_dir.isValid()) return hl::Status::ioError(QStringLiteral("no temporary directory"));
      m_port = freePort();
      QDir(m_dir.path()).mkpath(QStringLiteral("data"));
      HL_RETURN_IF_ERROR(keygen(QStringLiteral("host_key")));
      HL_RETURN_IF_ERROR(keygen(QStringLiteral("user_key")));
      QFile::copy(path("user_key.pub"), path("authorized_keys"));
      const ProcessResult hash =
          runProcess(QStringLiteral("openssl"), {"passwd", "-6", QString::fromLatin1(kPassword)});
      if (hash.exitCode != 0)
        return hl::Status::ioError(QStringLiteral("openssl passwd: ") +
                                   QString::fromUtf8(hash.err));
      // /etc/shadow with root's password replaced; /etc/passwd as it is.
      QFile shadow(QStringLiteral("/etc/shadow"));
      if (!shadow.open(QIODevice::ReadOnly))
        return hl::Status::ioError(QStringLiteral("read /etc/shadow: ") + shadow.errorString());
      QByteArray out;
      for (const QByteArray& line : shadow.readAll().split('\n')) {
        if (line.isEmpty()) continue;
        QList<QByteArray> f = line.split(':');
        if (f.value(0) == kUser && f.size() > 1) f[1] = hash.out.trimmed();
        out += f.join(':') + '\n';
      }
      writeFile(path("shadow"), out);
      QFile::setPermissions(path("shadow"), QFile::ReadOwner | QFile::WriteOwner);
      QFile::copy(QStringLiteral("/etc/passwd"), path("passwd"));
      QByteArray conf;
      conf += "ListenAddress 127.0.0.1:" + QByteArray::number(m_port) + "\n";
      conf += "HostKey " + path("host_key").toUtf8() + "\n";
      conf += "PidFile none\nUsePAM no\nPasswordAuthentication yes\n";
      conf += "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n";
      conf += "AuthorizedKeysFile " + path("authorized_keys").toUtf8() + "\n";
      conf += "PermitRootLogin yes\nStrictModes no\nSubsystem sftp internal-sftp\n";
      conf += "LogLevel VERBOSE\n";
      writeFile(path("sshd_config"), conf);
      HL_RETURN_IF_ERROR(writeKnownHosts());
    }
    // The bind mounts over /etc/passwd and /etc/shadow last only while nothing renames a new
    // file over those paths outside: a rename detaches them (adduser does that; tst_package,
    // which installs the package, runs alone for this reason: tests/CMakeLists.txt).
    const QString script =
        QStringLiteral(
            "set -e; mount -t tmpfs -o size=1m,mode=755 hl-sshd-run /run; mkdir -m 755 /run/sshd; "
            "mount --bind '%1' /etc/passwd; mount --bind '%2' /etc/shadow; "
            "exec /usr/sbin/sshd -D -e -f '%3'")
            .arg(path("passwd"), path("shadow"), path("sshd_config"));
    m_process = std::make_unique<QProcess>();
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    // Its own PID namespace too: killing unshare kills sshd (--kill-child), and sshd, PID 1
    // there, takes every session process with it, as a crashed server would.
    dieWithTest(*m_process);
    m_process->start(
        QStringLiteral("unshare"),
        {QStringLiteral("--mount"), QStringLiteral("--propagation"), QStringLiteral("private"),
         QStringLiteral("--pid"), QStringLiteral("--fork"), QStringLiteral("--kill-child"),
         QStringLiteral("sh"), QStringLiteral("-c"), script});
    if (!m_process->waitForStarted(10000))
      return hl::Status::unavailable(QStringLiteral("unshare did not start: ") +
                                     m_process->errorString());
    if (!waitListening(*m_process, m_port, 15000, 50))
      return hl::Status::unavailable(QStringLiteral("sshd did not listen on %1: %2")
                                         .arg(m_port)
                                         .arg(QString::fromUtf8(m_process->readAll())));
    return hl::Status::ok();
  }

  // What sshd printed since the last call (-e: its log goes to stderr, LogLevel VERBOSE).
  QString takeLog() { return m_process ? QString::fromUtf8(m_process->readAll()) : QString(); }

  // SIGKILL, no goodbye: sshd and its sessions die at once (its PID namespace ends).
  void kill() {
    if (!m_process) return;
    if (m_process->state() != QProcess::NotRunning) {
      m_process->kill();
      m_process->waitForFinished(10000);
    }
    m_process.reset();
    // The port is free again once the namespace's processes are gone.
    waitFor([&] { return !portOpen(m_port, 100); }, 10000, 50);
  }

  // A new host key for the next start(), NOT written to known_hosts: the server "changed".
  hl::Status newHostKey() {
    QFile::remove(path("host_key"));
    QFile::remove(path("host_key.pub"));
    return keygen(QStringLiteral("host_key"));
  }

  // The store URL in Go's form, sftp://root[:password]@127.0.0.1:<port><data>/<dir>.
  QString url(const QString& dir, bool withPassword = true) const {
    return QStringLiteral("sftp://%1%2@127.0.0.1:%3%4/%5")
        .arg(QLatin1String(kUser),
             withPassword ? QStringLiteral(":") + QLatin1String(kPassword) : QString())
        .arg(m_port)
        .arg(dataDir(), dir);
  }

  hl::SnapshotSftpConfig config(const QString& dir) const {
    hl::SnapshotSftpConfig c;
    c.url = url(dir);
    c.knownHosts = knownHostsFile();
    return c;
  }
  hl::SnapshotSftpConfig keyConfig(const QString& dir) const {
    hl::SnapshotSftpConfig c = config(dir);
    c.url = url(dir, false);
    c.keyFile = path("user_key");
    return c;
  }

  QString knownHostsFile() const { return path("known_hosts"); }
  // The host key's fingerprint as `ssh-keygen -lf` prints it ("SHA256:...").
  QString hostKeyFingerprint() const {
    const ProcessResult r =
        runProcess(QStringLiteral("ssh-keygen"), {QStringLiteral("-lf"), path("host_key.pub")});
    return QString::fromUtf8(r.out).section(' ', 1, 1);
  }
  QString dataDir() const { return path("data"); }
  int port() const { return m_port; }
  QString path(const char* name) const { return m_dir.filePath(QString::fromLatin1(name)); }
  QString path(const QString& name) const { return m_dir.filePath(name); }

 private:
  hl::Status keygen(const QString& name) {
    const ProcessResult r =
        runProcess(QStringLiteral("ssh-keygen"),
                   {"-q", "-t", "ed25519", "-N", "", "-C", "hl-test", "-f", path(name)});
    if (r.exitCode != 0)
      return hl::Status::ioError(QStringLiteral("ssh-keygen: ") + QString::fromUtf8(r.err));
    return hl::Status::ok();
  }

  hl::Status writeKnownHosts() {
    QFile pub(path("host_key.pub"));
    if (!pub.open(QIODevice::ReadOnly))
      return hl::Status::ioError(QStringLiteral("host_key.pub: ") + pub.errorString());
    const QList<QByteArray> f = pub.readAll().split(' ');
    writeFile(path("known_hosts"), "[127.0.0.1]:" + QByteArray::number(m_port) + ' ' + f.value(0) +
                                       ' ' + f.value(1).trimmed() + '\n');
    return hl::Status::ok();
  }

  QTemporaryDir m_dir;
  int m_port = 0;
  std::unique_ptr<QProcess> m_process;
};

}  // namespace hl::test
