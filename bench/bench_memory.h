// Memory figures the benchmarks print: this process's resident set and its peak, with the peak
// reset before a phase, so that a phase's "peak RSS growth" is what that phase added.
// (snapshot_bench, store_bench; Linux /proc only.)
#pragma once

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <QElapsedTimer>
#include <QFile>

#include <algorithm>
#include <cstdio>

namespace hl::bench {

// ---- memory --------------------------------------------------------------------------------

struct Mem {
  qint64 rssKb = 0;
  qint64 hwmKb = 0;
};

inline Mem readMem() {
  Mem m;
  QFile f(QStringLiteral("/proc/self/status"));
  if (!f.open(QIODevice::ReadOnly)) return m;
  for (const QByteArray& line : f.readAll().split('\n')) {
    auto value = [&] { return line.mid(6).trimmed().split(' ').value(0).toLongLong(); };
    if (line.startsWith("VmRSS:")) m.rssKb = value();
    if (line.startsWith("VmHWM:")) m.hwmKb = value();
  }
  return m;
}

inline bool g_peakResettable = true;

// Gives freed heap back and resets VmHWM to the current RSS.
inline void resetPeak() {
  malloc_trim(0);
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY);
  const bool ok = fd >= 0 && ::write(fd, "5", 1) == 1;
  if (fd >= 0) ::close(fd);
  if (!ok && g_peakResettable) {
    g_peakResettable = false;
    std::fprintf(stderr,
                 "warning: cannot write /proc/self/clear_refs: RSS peaks are since start\n");
  }
}

// Times one phase and the growth of this process's peak RSS during it.
class Phase {
 public:
  Phase() {
    resetPeak();
    m_startRssKb = readMem().rssKb;
    m_timer.start();
  }
  void stop() {
    m_seconds = double(m_timer.nsecsElapsed()) / 1e9;
    m_growthKb = std::max<qint64>(0, readMem().hwmKb - m_startRssKb);
  }
  double seconds() const { return m_seconds; }
  qint64 growthKb() const { return m_growthKb; }

 private:
  QElapsedTimer m_timer;
  qint64 m_startRssKb = 0;
  double m_seconds = 0;
  qint64 m_growthKb = 0;
};

}  // namespace hl::bench
