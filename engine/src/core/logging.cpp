#include "harmonylite/logging.h"

#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>

#include <errno.h>
#include <execinfo.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcMain, "hl.main")
Q_LOGGING_CATEGORY(lcConfig, "hl.config")

namespace hl {
namespace {

std::atomic<uint64_t> g_nodeId{0};
std::atomic<int> g_format{int(LogFormat::kConsole)};

// Lines are written to stderr by a thread of their own: a reader that stops reading (a full
// pipe: a stalled log shipper, a terminal on hold, a test harness busy elsewhere) must not stop
// the thread that logged, which may be the engine thread in the middle of applying. Up to
// kMaxPendingBytes wait; beyond that lines are dropped and counted, and the next write says how
// many (docs/configuration.md#logging). At exit (and before a fatal message) what waits is
// written within kFlushMs, so that an unread pipe cannot keep the process from ending either.
class LogWriter {
 public:
  static constexpr qsizetype kMaxPendingBytes = 4 * 1024 * 1024;
  static constexpr int kFlushMs = 2000;
  static constexpr int kCrashMs = 500;

  static LogWriter& instance() {
    static LogWriter* writer = [] {
      auto* w = new LogWriter;  // never deleted: lines may come until the process ends
      std::thread([w] { w->run(); }).detach();
      std::atexit([] { LogWriter::instance().flush(); });
      return w;
    }();
    return *writer;
  }

  void add(const QByteArray& line) {
    {
      std::lock_guard<std::mutex> lock(m_queueMutex);
      if (!m_sync) {
        if (m_pending.size() + line.size() > kMaxPendingBytes) {
          ++m_dropped;
          m_droppedTotal.fetch_add(1);
          return;
        }
        m_pending += line;
        m_wake.notify_one();
        return;
      }
    }
    writeNow(line, 0);  // after flush(): written at once
  }

  // Writes what waits, then every later line at once (at exit, and before a fatal message).
  void flush() {
    auto [pending, dropped] = take(true);
    writeNow(pending, dropped);
  }

  qint64 droppedTotal() const { return m_droppedTotal.load(); }

  // The crash handler's report: the waiting lines (if nobody holds them right now: a crashing
  // process may have stopped anywhere), the signal and a stack trace. Only async-signal-safe
  // calls, no allocation; an unread stderr cannot hold it: each write waits at most kCrashMs,
  // and alarm() ends the process (SIGALRM) should anything else wait.
  void crashReport(int sig) {
    ::alarm(3);
    if (m_queueMutex.try_lock()) {
      writeAll(m_pending, kCrashMs);
      m_queueMutex.unlock();
    }
    char head[96];
    const char* name = ::sigabbrev_np(sig);
    const int len = ::snprintf(head, sizeof head, "harmonylite: fatal signal %d (SIG%s); stack:\n",
                               sig, name ? name : "?");
    writeAll(QByteArray::fromRawData(head, std::clamp(len, 0, int(sizeof head) - 1)), kCrashMs);
    pollfd fd{STDERR_FILENO, POLLOUT, 0};
    if (::poll(&fd, 1, kCrashMs) > 0) {
      void* frames[48];
      ::backtrace_symbols_fd(frames, ::backtrace(frames, 48), STDERR_FILENO);
    }
  }

 private:
  void run() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(m_queueMutex);
        m_wake.wait(lock, [this] { return !m_pending.isEmpty() || m_sync; });
        if (m_sync) return;
      }
      // The write lock first, then the lines: flush() cannot write later lines before these.
      std::lock_guard<std::timed_mutex> write(m_writeMutex);
      auto [chunk, dropped] = take(false);
      writeAll(droppedNote(dropped) + chunk, -1);  // may wait on a full pipe: only this thread
    }
  }
  // The waiting lines and how many were dropped before them; `sync`: later lines are written
  // at once (flush()).
  std::pair<QByteArray, qint64> take(bool sync) {
    std::lock_guard<std::mutex> lock(m_queueMutex);
    if (sync) m_sync = true;
    return {std::exchange(m_pending, {}), std::exchange(m_dropped, 0)};
  }
  // Within kFlushMs, or not at all (the writer thread may be stuck on a full pipe).
  void writeNow(const QByteArray& bytes, qint64 dropped) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kFlushMs);
    std::unique_lock<std::timed_mutex> write(m_writeMutex, deadline);
    if (write.owns_lock()) writeAll(droppedNote(dropped) + bytes, kFlushMs);
  }
  static QByteArray droppedNote(qint64 dropped) {
    if (dropped == 0) return {};
    return QByteArray("harmonylite: ") + QByteArray::number(dropped) +
           " log line(s) dropped: stderr was not read fast enough\n";
  }
  // To fd 2; with timeoutMs >= 0 it gives up once stderr stayed full that long.
  static void writeAll(const QByteArray& bytes, int timeoutMs) {
    const char* p = bytes.constData();
    qsizetype left = bytes.size();
    while (left > 0) {
      if (timeoutMs >= 0) {
        pollfd fd{STDERR_FILENO, POLLOUT, 0};
        if (::poll(&fd, 1, timeoutMs) <= 0) return;
      }
      // Pieces of PIPE_BUF: a pipe that polls writable takes one without blocking.
      const ssize_t n = ::write(
          STDERR_FILENO, p, size_t(timeoutMs >= 0 ? std::min<qsizetype>(left, PIPE_BUF) : left));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // stderr closed or broken: nothing more to do
      p += n;
      left -= n;
    }
  }

  std::mutex m_queueMutex;        // m_pending, m_dropped, m_sync
  std::timed_mutex m_writeMutex;  // one writer to stderr at a time, in order
  std::condition_variable m_wake;
  QByteArray m_pending;
  qint64 m_dropped = 0;  // since the last write
  std::atomic<qint64> m_droppedTotal{0};
  bool m_sync = false;
};

const char* levelName(QtMsgType type, bool shortForm) {
  switch (type) {
    case QtDebugMsg:
      return shortForm ? "DBG" : "debug";
    case QtInfoMsg:
      return shortForm ? "INF" : "info";
    case QtWarningMsg:
      return shortForm ? "WRN" : "warn";
    case QtCriticalMsg:
      return shortForm ? "ERR" : "error";
    case QtFatalMsg:
      return shortForm ? "FTL" : "fatal";
  }
  return "info";
}

void handler(QtMsgType type, const QMessageLogContext& ctx, const QString& msg) {
  const QByteArray line =
      formatLogLine(LogFormat(g_format.load()), type, ctx.category ? ctx.category : "default", msg,
                    g_nodeId.load(), QDateTime::currentDateTimeUtc()) +
      '\n';
  LogWriter::instance().add(line);
  if (type == QtFatalMsg) {
    LogWriter::instance().flush();
    std::abort();
  }
}

// A crash (or an abort: qFatal, std::terminate, the C library finding a corrupt heap) writes
// the lines still waiting, the signal and a stack trace to stderr before the process ends with
// that signal: without it, the last lines before a crash, the ones that say what happened, would
// die in the writer's queue (docs/configuration.md#logging).
void onFatalSignal(int sig) {
  LogWriter::instance().crashReport(sig);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void installCrashHandler() {
  LogWriter::instance();  // created now, not in the handler
  void* warm[1];
  ::backtrace(warm, 1);  // loads libgcc now: its first use allocates, which a crash must not
  struct sigaction sa = {};
  sa.sa_handler = onFatalSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(sig, &sa, nullptr);
}

}  // namespace

LogFormat logFormatFromName(const QString& name) {
  return name == QLatin1String("json") ? LogFormat::kJson : LogFormat::kConsole;
}

QByteArray formatLogLine(LogFormat format, QtMsgType type, const char* category,
                         const QString& message, uint64_t nodeId, const QDateTime& timeUtc) {
  const QString time = timeUtc.toString(Qt::ISODateWithMs);
  if (format == LogFormat::kJson) {
    QJsonObject o;
    o.insert("time", time);
    o.insert("level", QLatin1String(levelName(type, false)));
    o.insert("category", QLatin1String(category));
    o.insert("node_id", qint64(nodeId));
    o.insert("message", message);
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
  }
  return QStringLiteral("%1 %2 [%3] node=%4 %5")
      .arg(time, QLatin1String(levelName(type, true)), QLatin1String(category))
      .arg(nodeId)
      .arg(message)
      .toUtf8();
}

void installLogHandler(LogFormat format, bool verbose) {
  g_format.store(int(format));
  QLoggingCategory::setFilterRules(verbose ? QStringLiteral("hl.*.debug=true")
                                           : QStringLiteral("hl.*.debug=false"));
  qInstallMessageHandler(handler);
  installCrashHandler();
}

qint64 droppedLogLines() {
  return LogWriter::instance().droppedTotal();
}

void flushLogs() {
  LogWriter::instance().flush();
}

void setLogNodeId(uint64_t nodeId) {
  g_nodeId.store(nodeId);
}

}  // namespace hl
