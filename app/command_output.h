// Output of the one-shot commands (-digest, -check-consistency, schema and snapshot commands):
// results on standard output, messages on standard error after the log lines written before
// them. Thread: the command's (main) thread.
#pragma once

#include <QString>

#include <cstdio>

#include "harmonylite/logging.h"

namespace hl::cli {

inline void printLine(FILE* f, const QString& line) {
  if (f == stderr) flushLogs();  // after the log lines before it
  std::fputs((line + '\n').toLocal8Bit().constData(), f);
}
inline void out(const QString& line) {
  printLine(stdout, line);
}
inline void err(const QString& line) {
  printLine(stderr, line);
}

}  // namespace hl::cli
