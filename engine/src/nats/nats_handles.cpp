#include "nats/nats_handles.h"

namespace hl {

Status fromNats(natsStatus s, const QString& op, jsErrCode jerr) {
  if (s == NATS_OK) return Status::ok();
  QString msg = QStringLiteral("%1: %2").arg(op, QString::fromUtf8(natsStatus_GetText(s)));
  if (jerr != 0) msg += QStringLiteral(" (JetStream error %1)").arg(int(jerr));
  // nats_GetLastError gives the detail of the failure on this thread, when there is one.
  natsStatus lastStatus = NATS_OK;
  if (const char* detail = nats_GetLastError(&lastStatus); detail && *detail && lastStatus == s) {
    const QString d = QString::fromUtf8(detail);
    if (!msg.contains(d)) msg += QStringLiteral(": ") + d;
  }
  switch (s) {
    case NATS_TIMEOUT:
      return Status::timeout(msg);
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_NO_RESPONDERS:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
    case NATS_SLOW_CONSUMER:
      return Status::unavailable(msg);
    case NATS_NOT_FOUND:
      return Status::notFound(msg);
    case NATS_INVALID_ARG:
    case NATS_MAX_PAYLOAD:
      return Status::invalidArgument(msg);
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_NOT_PERMITTED:
      return Status::invalidArgument(msg);
    default:
      return Status::internal(msg);
  }
}

}  // namespace hl
