// Remote snapshot store benchmark (issue 13): a 200 MiB snapshot file uploaded to and
// downloaded from each remote store's local test server (s3rver, lighttpd mod_webdav, OpenSSH
// sshd; the fixtures of tests/support), next to the `curl` program moving the same file to and
// from the same server in the same run, and the peak RSS growth of this process during each of
// our transfers.
//
//  - ours: SnapshotStore::put from the file through a HashingDevice, as the snapshot service
//    uploads; SnapshotStore::get into a file through a HashingDevice, as it downloads. The
//    digests are checked against the file's.
//  - curl: `curl -T file URL` and `curl -o file URL` (s3: --aws-sigv4, one PUT; webdav: Basic
//    authentication; sftp: password, host key not checked), timed as a process.
// Targets: our rate >= 80% of curl's, RSS growth <= 64 MiB; a miss is printed as TARGET MISSED
// and never fails the run. The run fails only on errors (a transfer failing, a digest
// differing). The servers run on this machine and share its 2 cores with the client, for
// both clients alike.
//
//   store_bench [--size 200 (MiB)] [--runs 3] [--stores s3,webdav,sftp]   (best of the runs)
//   store_bench --smoke        (8 MiB, one run: the ctest bench-smoke test)
#include <unistd.h>

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QTextStream>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include "bench_memory.h"
#include "s3_test_server.h"
#include "sftp_test_server.h"
#include "snapshot/s3_store.h"
#include "snapshot/sftp_store.h"
#include "snapshot/sha256.h"
#include "snapshot/webdav_store.h"
#include "test_support.h"
#include "webdav_test_server.h"

using namespace hl;
using namespace hl::bench;

namespace {

constexpr qint64 kMiB = 1024 * 1024;
constexpr double kRateTarget = 0.8;
constexpr qint64 kRssTargetKb = 64 * 1024;

struct BenchError {
  QString what;
};
[[noreturn]] void die(const QString& what) {
  throw BenchError{what};
}
void check(const Status& s, const QString& what) {
  if (!s.isOk()) die(what + ": " + s.message());
}

// `bytes` of pseudo-random data (incompressible), and its SHA-256.
QString makeFile(const QString& path, qint64 bytes) {
  QFile f(path);
  if (!f.open(QIODevice::WriteOnly)) die("create " + path);
  HashingDevice h(f);
  QByteArray chunk(kMiB, Qt::Uninitialized);
  quint64 x = 0x9E3779B97F4A7C15ull;
  for (qint64 done = 0; done < bytes; done += chunk.size()) {
    auto* w = reinterpret_cast<quint64*>(chunk.data());
    for (qsizetype i = 0; i < chunk.size() / 8; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      w[i] = x;
    }
    const qint64 n = std::min<qint64>(chunk.size(), bytes - done);
    if (h.write(chunk.constData(), n) != n) die("write " + path);
  }
  return h.hex();
}

// One transfer direction of one store: ours and curl's, best of the runs.
struct Figure {
  double ours = 1e18;
  double curl = 1e18;
  double plain = 1e18;  // ours without the SHA-256 on the way (what curl does not do)
  qint64 rssKb = 0;
};

// Every timed transfer starts with no dirty pages of the one before (200 MB of them would be
// written back during the next transfer and slow whichever came second).
void settle() {
  ::sync();
}

double curlSeconds(const QStringList& args) {
  settle();
  QElapsedTimer t;
  t.start();
  const test::ProcessResult r =
      test::runProcess(QStringLiteral("curl"), QStringList{"-sS", "--fail"} + args, 600000);
  const double s = double(t.nsecsElapsed()) / 1e9;
  if (r.exitCode != 0) die("curl " + args.join(' ') + ": " + QString::fromUtf8(r.err));
  return s;
}

struct Target {
  QString name;
  std::unique_ptr<SnapshotStore> store;
  QStringList curlAuth;                // the curl arguments that authenticate
  QString objectUrl;                   // the URL of object "bench/file.db" for curl
  std::function<QString()> serverLog;  // what the server logged since last asked (sftp only)
};

}  // namespace

static int run(const QStringList& args);

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  try {
    return run(app.arguments());
  } catch (const BenchError& e) {
    std::fprintf(stderr, "store_bench: %s\n", qPrintable(e.what));
    return 1;
  }
}

static int run(const QStringList& args) {
  qint64 mib = 200;
  int runs = 3;
  bool smoke = false;
  QStringList stores = {"s3", "webdav", "sftp"};
  for (int i = 1; i < args.size(); ++i) {
    if (args[i] == "--smoke") {
      smoke = true;
      mib = 8;
      runs = 1;
    } else if (args[i] == "--size" && i + 1 < args.size()) {
      mib = args[++i].toLongLong();
    } else if (args[i] == "--runs" && i + 1 < args.size()) {
      runs = std::max(1, args[++i].toInt());
    } else if (args[i] == "--stores" && i + 1 < args.size()) {
      stores = args[++i].split(',', Qt::SkipEmptyParts);
    } else {
      std::fprintf(stderr,
                   "usage: store_bench [--size MiB] [--runs N] [--stores s3,webdav,sftp] "
                   "[--smoke]\n");
      return 2;
    }
  }
  if (mib <= 0) die("--size wants a positive size in MiB");
  QTemporaryDir dir;
  if (!dir.isValid()) die("temp dir");
  const QString file = dir.filePath("snapshot.db");
  const QString back = dir.filePath("back.db");
  const qint64 bytes = mib * kMiB;
  const QString sha = makeFile(file, bytes);
  const QString object = QStringLiteral("bench/file.db");

  test::S3TestServer s3;
  test::WebDavTestServer webdav;
  test::SftpTestServer sftp;
  std::vector<Target> targets;
  QTextStream out(stdout);
  for (const QString& name : stores) {
    Target t;
    t.name = name;
    if (name == "s3") {
      check(s3.start(), "start s3rver");
      const SnapshotS3Config c = s3.config(QStringLiteral("bench-path"));
      t.store = std::make_unique<S3Store>(c);
      t.curlAuth = {"--aws-sigv4", "aws:amz:us-east-1:s3",
                    "-u",          c.accessKey + ":" + c.secret,
                    "-H",          "x-amz-content-sha256: UNSIGNED-PAYLOAD"};
      t.objectUrl = QStringLiteral("http://%1/%2/bench-path/%3").arg(c.endpoint, c.bucket, object);
    } else if (name == "webdav") {
      check(webdav.start(), "start lighttpd");
      t.store = std::make_unique<WebDavStore>(webdav.config(QStringLiteral("bench-dir")));
      t.curlAuth = {"-u",
                    QStringLiteral("%1:%2").arg(QLatin1String(test::WebDavTestServer::kLogin),
                                                QLatin1String(test::WebDavTestServer::kSecret))};
      t.objectUrl =
          QStringLiteral("http://127.0.0.1:%1/dav/bench-dir/%2").arg(webdav.port()).arg(object);
    } else if (name == "sftp") {
      const Status st = sftp.start();
      if (!st.isOk()) {
        out << "sftp: skipped: " << st.message() << "\n";
        continue;
      }
      t.store = std::make_unique<SftpStore>(sftp.config(QStringLiteral("bench-dir")));
      t.serverLog = [&sftp] { return sftp.takeLog(); };
      t.curlAuth = {"-k", "-u",
                    QStringLiteral("%1:%2").arg(QLatin1String(test::SftpTestServer::kUser),
                                                QLatin1String(test::SftpTestServer::kPassword))};
      t.objectUrl = QStringLiteral("sftp://127.0.0.1:%1%2/bench-dir/%3")
                        .arg(sftp.port())
                        .arg(sftp.dataDir(), object);
    } else {
      die("unknown store " + name + " (s3, webdav, sftp)");
    }
    targets.push_back(std::move(t));
  }

  out << "remote store benchmark: " << mib << " MiB file, " << runs
      << (runs == 1 ? " run" : " runs, best of each") << ", servers on this machine\n";
  out << QStringLiteral("%1 %2 %3 %4 %5 %6\n")
             .arg("case", -18)
             .arg("harmonylite", 13)
             .arg("curl", 13)
             .arg("ratio", 7)
             .arg("peak RSS growth", 16)
             .arg("without SHA-256", 16);
  out.flush();
  bool anyMissed = false;
  const double mb = double(bytes) / 1e6;
  for (Target& t : targets) {
    Figure up, down;
    for (int pass = 0; pass < runs; ++pass) {
      // Upload: ours (it makes the folders curl needs), then curl over it; both replace it.
      {
        QFile in(file);
        if (!in.open(QIODevice::ReadOnly)) die("open " + file);
        HashingDevice source(in);
        settle();
        Phase p;
        Status first = t.store->put(object, source, bytes, {}, {});
        if (!first.isOk() && pass == 0 && t.serverLog) {
          // Seen once in CI: the first SFTP put of a fresh sshd refused with "Authentication
          // failure", and not again in local runs. Say so with the server's log, then try once
          // more from the start (the timing of this pass counts the retry).
          out << t.name << " put failed, trying once more: " << first.message() << "\n"
              << "server log:\n"
              << t.serverLog() << "\n";
          out.flush();
          if (!source.seek(0)) die("rewind " + file);
          first = t.store->put(object, source, bytes, {}, {});
        }
        check(first, t.name + " put");
        p.stop();
        if (source.hex() != sha) die(t.name + " put: the digest of what was sent differs");
        up.ours = std::min(up.ours, p.seconds());
        up.rssKb = std::max(up.rssKb, p.growthKb());
      }
      up.curl = std::min(up.curl, curlSeconds(t.curlAuth + QStringList{"-T", file, t.objectUrl}));
      {
        QFile in(file);
        if (!in.open(QIODevice::ReadOnly | QIODevice::Unbuffered)) die("open " + file);
        settle();
        QElapsedTimer timer;
        timer.start();
        check(t.store->put(object, in, bytes, {}, {}), t.name + " put");
        up.plain = std::min(up.plain, double(timer.nsecsElapsed()) / 1e9);
      }
      // Download: curl, then ours; both into a fresh file.
      QFile::remove(back);
      down.curl =
          std::min(down.curl, curlSeconds(t.curlAuth + QStringList{"-o", back, t.objectUrl}));
      QFile::remove(back);
      {
        QFile outFile(back);
        if (!outFile.open(QIODevice::WriteOnly)) die("create " + back);
        HashingDevice sink(outFile);
        settle();
        Phase p;
        check(t.store->get(object, sink, {}), t.name + " get");
        p.stop();
        if (sink.hex() != sha || sink.bytes() != bytes)
          die(t.name + " get: the downloaded bytes differ");
        down.ours = std::min(down.ours, p.seconds());
        down.rssKb = std::max(down.rssKb, p.growthKb());
      }
      QFile::remove(back);
      {
        QFile outFile(back);
        if (!outFile.open(QIODevice::WriteOnly)) die("create " + back);
        settle();
        QElapsedTimer timer;
        timer.start();
        check(t.store->get(object, outFile, {}), t.name + " get");
        down.plain = std::min(down.plain, double(timer.nsecsElapsed()) / 1e9);
      }
      QFile::remove(back);
    }
    check(t.store->remove(object), t.name + " remove");
    auto row = [&](const QString& name, const Figure& f) {
      const double ratio = f.curl / f.ours;  // our rate over curl's
      QStringList missed;
      if (ratio < kRateTarget) missed << QStringLiteral("rate < %1 of curl's").arg(kRateTarget);
      if (f.rssKb > kRssTargetKb) missed << "RSS > 64 MiB";
      anyMissed = anyMissed || !missed.isEmpty();
      out << QStringLiteral("%1 %2 %3 %4 %5 %6%7\n")
                 .arg(name, -18)
                 .arg(QStringLiteral("%1 MB/s").arg(mb / f.ours, 0, 'f', 1), 13)
                 .arg(QStringLiteral("%1 MB/s").arg(mb / f.curl, 0, 'f', 1), 13)
                 .arg(QStringLiteral("%1").arg(ratio, 0, 'f', 2), 7)
                 .arg(QStringLiteral("%1 MiB").arg(double(f.rssKb) / 1024.0, 0, 'f', 1), 16)
                 .arg(QStringLiteral("%1 MB/s").arg(mb / f.plain, 0, 'f', 1), 16)
                 .arg(missed.isEmpty() ? QString() : "  TARGET MISSED (" + missed.join(", ") + ")");
    };
    row(t.name + " upload", up);
    row(t.name + " download", down);
    out.flush();
  }
  out << "ratio = our rate / curl's rate on the same file and server (target >= " << kRateTarget
      << "); ours hashes what it moves (SHA-256, as the snapshot service does), curl does not:\n"
         "'without SHA-256' is the same transfer of ours without it; s3 uploads: ours multipart "
         "(16 MiB parts, which s3rver joins into one file on completion), curl one PUT\n";
  if (smoke) out << "smoke run: the size is too small for the figures to mean anything\n";
  out << (anyMissed ? "some targets missed (reported, not asserted)\n" : "all targets met\n");
  return 0;
}
