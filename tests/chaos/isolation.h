// The chaos suite's own network and disks (docs/chaos.md#isolation).
//
// hl_chaos runs itself again inside a new network and mount namespace (`unshare --net --mount`),
// so that nothing it does reaches the host: the namespaces, links, bridges and addresses below
// exist only inside it, /run/netns is a tmpfs of its own, and every mount goes when it ends.
// In there each node (with its embedded NATS server, in that topology) and each NATS server gets
// a network namespace joined to the bridge `hl-main` (10.77.0.0/24, the harness at .254) by a
// virtual link. A partition moves links to a second bridge, `hl-cut`: the members cut off still
// reach each other, not the rest. Each node's folder is a small tmpfs that a fault can fill.
// Thread: the harness's one thread.
#pragma once

#include <QCoreApplication>
#include <QFile>
#include <QProcess>
#include <QStringList>

#include "harmonylite/status.h"
#include "test_support.h"

namespace chaos {

inline bool isolated() {
  return qEnvironmentVariableIsSet("HL_CHAOS_ISOLATED");
}

// Runs this program again, with the same arguments, in a new network and mount namespace; its
// output goes to ours. Returns its exit code, or -1 with the reason in `why` when the namespaces
// cannot be made (they need CAP_SYS_ADMIN and CAP_NET_ADMIN).
inline int runIsolated(const QStringList& args, QString* why) {
  const hl::test::ProcessResult probe =
      hl::test::runProcess("unshare", {"--net", "--mount", "--propagation", "private", "sh", "-c",
                                       "mkdir -p /run/netns && mount -t tmpfs hl-chaos /run/netns "
                                       "&& ip link add hl-probe type bridge"});
  if (probe.exitCode != 0) {
    *why = QStringLiteral(
               "cannot make a network and mount namespace (unshare, mount and ip need "
               "CAP_SYS_ADMIN and CAP_NET_ADMIN): ") +
           QString::fromLocal8Bit(probe.err.trimmed());
    return -1;
  }
  QProcess child;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("HL_CHAOS_ISOLATED", "1");
  child.setProcessEnvironment(env);
  child.setProcessChannelMode(QProcess::ForwardedChannels);
  hl::test::dieWithTest(child);
  child.start("unshare",
              QStringList{"--net", "--mount", "--propagation", "private", "sh", "-c",
                          "mkdir -p /run/netns && mount -t tmpfs hl-chaos /run/netns && ip link "
                          "set lo up && exec \"$0\" \"$@\"",
                          QCoreApplication::applicationFilePath()} +
                  args);
  if (!child.waitForStarted(10000)) {
    *why = "cannot start unshare: " + child.errorString();
    return -1;
  }
  child.waitForFinished(-1);
  return child.exitStatus() == QProcess::NormalExit ? child.exitCode() : 2;
}

inline hl::Status run(const QString& program, const QStringList& args) {
  const hl::test::ProcessResult r = hl::test::runProcess(program, args, 30000);
  if (r.exitCode == 0) return hl::Status::ok();
  return hl::Status::ioError(program + ' ' + args.join(' ') + ": " +
                             QString::fromLocal8Bit(r.err.trimmed()));
}

class Network {
 public:
  // A namespace per member ("node1", "nats1", ...), addresses 10.77.0.<first + index>.
  hl::Status setUp(const QStringList& members) {
    HL_RETURN_IF_ERROR(run("ip", {"link", "add", "hl-main", "type", "bridge"}));
    HL_RETURN_IF_ERROR(run("ip", {"link", "add", "hl-cut", "type", "bridge"}));
    HL_RETURN_IF_ERROR(run("ip", {"addr", "add", "10.77.0.254/24", "dev", "hl-main"}));
    HL_RETURN_IF_ERROR(run("ip", {"link", "set", "hl-main", "up"}));
    HL_RETURN_IF_ERROR(run("ip", {"link", "set", "hl-cut", "up"}));
    for (const QString& m : members) {
      const QString ns = nsName(m), host = linkName(m);
      m_members << m;
      HL_RETURN_IF_ERROR(run("ip", {"netns", "add", ns}));
      HL_RETURN_IF_ERROR(
          run("ip", {"link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", ns}));
      HL_RETURN_IF_ERROR(run("ip", {"link", "set", host, "master", "hl-main", "up"}));
      HL_RETURN_IF_ERROR(run("ip", {"-n", ns, "addr", "add", address(m) + "/24", "dev", "eth0"}));
      HL_RETURN_IF_ERROR(run("ip", {"-n", ns, "link", "set", "eth0", "up"}));
      HL_RETURN_IF_ERROR(run("ip", {"-n", ns, "link", "set", "lo", "up"}));
    }
    return hl::Status::ok();
  }

  QStringList wrapper(const QString& member) const {
    return {"ip", "netns", "exec", nsName(member)};
  }
  QString address(const QString& member) const {
    return QStringLiteral("10.77.0.%1").arg(m_members.indexOf(member) + 1);
  }

  // The members' links go to hl-cut: they reach each other, nothing else (packets are dropped,
  // not refused, as in a real partition).
  hl::Status cut(const QStringList& members) {
    for (const QString& m : members)
      HL_RETURN_IF_ERROR(run("ip", {"link", "set", linkName(m), "master", "hl-cut"}));
    return hl::Status::ok();
  }
  hl::Status heal() {
    for (const QString& m : m_members)
      HL_RETURN_IF_ERROR(run("ip", {"link", "set", linkName(m), "master", "hl-main"}));
    return hl::Status::ok();
  }

 private:
  static QString nsName(const QString& m) { return "hl-" + m; }
  static QString linkName(const QString& m) { return "hv-" + m; }
  QStringList m_members;
};

inline hl::Status mountTmpfs(const QString& dir, int sizeMb) {
  return run("mount",
             {"-t", "tmpfs", "-o", QStringLiteral("size=%1m").arg(sizeMb), "hl-chaos-disk", dir});
}

// Writes `path` until its filesystem is full; returns the bytes written (the file stays until
// the caller removes it).
inline qint64 fillDisk(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Unbuffered)) return 0;
  const QByteArray chunk(1 << 20, 'x');
  qint64 written = 0;
  // Big chunks, then smaller ones down to a byte: a full disk to the byte.
  for (qsizetype n = chunk.size(); n > 0; n /= 2) {
    for (;;) {
      const qint64 w = f.write(chunk.constData(), n);
      if (w > 0) written += w;
      if (w != n) break;
    }
  }
  return written;
}

}  // namespace chaos
