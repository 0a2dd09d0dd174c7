#include "harmonylite/logging.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QMutex>

#include <atomic>
#include <cstdio>

Q_LOGGING_CATEGORY(lcMain, "hl.main")
Q_LOGGING_CATEGORY(lcConfig, "hl.config")

namespace hl {
namespace {

std::atomic<uint64_t> g_nodeId{0};
std::atomic<int> g_format{int(LogFormat::kConsole)};
QMutex g_writeMutex;

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
  {
    QMutexLocker lock(&g_writeMutex);
    std::fwrite(line.constData(), 1, size_t(line.size()), stderr);
    std::fflush(stderr);
  }
  if (type == QtFatalMsg) std::abort();
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
}

void setLogNodeId(uint64_t nodeId) {
  g_nodeId.store(nodeId);
}

}  // namespace hl
