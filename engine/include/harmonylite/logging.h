// Process-wide logging: Qt logging categories (hl.*) written as console or JSON lines.
//
// installLogHandler() is called once by the host (app/) before the engine starts. The handler
// is thread-safe (engine thread, GUI thread and nats.c callbacks all log) and never waits for
// stderr: a thread of its own writes the lines, and while stderr is not read (a full pipe) up to
// 4 MB wait and later lines are dropped and counted. Every line carries the node id set with
// setLogNodeId(); JSON lines are one JSON object each.
#pragma once

#include <QByteArray>
#include <QDateTime>
#include <QLoggingCategory>
#include <QString>

#include <cstdint>

Q_DECLARE_LOGGING_CATEGORY(lcMain)    // hl.main: start-up, shutdown, hosts
Q_DECLARE_LOGGING_CATEGORY(lcConfig)  // hl.config

namespace hl {

enum class LogFormat { kConsole, kJson };

// "console" -> kConsole, "json" -> kJson (the config loader has validated the value).
LogFormat logFormatFromName(const QString& name);

// Installs the message handler: lines go to stderr. `verbose` enables hl.* debug messages.
// Also installs a crash handler: on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT the waiting lines,
// the signal and a stack trace are written to stderr before the process ends with that signal.
void installLogHandler(LogFormat format, bool verbose);
void setLogNodeId(uint64_t nodeId);
// Log lines dropped since start because stderr was not read fast enough.
qint64 droppedLogLines();
// Writes every waiting line now; later lines are written at once (also done at exit).
void flushLogs();

// One formatted line without the trailing newline (exposed for tests).
QByteArray formatLogLine(LogFormat format, QtMsgType type, const char* category,
                         const QString& message, uint64_t nodeId, const QDateTime& timeUtc);

}  // namespace hl
