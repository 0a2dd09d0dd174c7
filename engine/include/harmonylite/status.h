// Status and Result<T>: the value every fallible engine call returns (LevelDB style).
//
// A Status is cheap to copy: OK carries no allocation. Errors carry a code, a message with
// context ("open /x/y.db: unable to open database file") and whether retrying may help.
// Engine code never throws; C-library errors are converted where the call is made
// (see sqlite/sqlite_db.h fromSqlite and nats/nats_handles.h fromNats).
// Thread: value type, usable from any thread.
#pragma once

#include <QString>

#include <optional>
#include <utility>
#include <variant>

namespace hl {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad input: config, flags, a message from the network
    kNotFound,
    kIoError,      // disk or file-system failure
    kCorruption,   // data on disk or wire that cannot be trusted
    kBusy,         // SQLite busy/locked: retryable
    kUnavailable,  // a server is unreachable or not ready: retryable
    kTimeout,      // retryable
    kPoison,       // a network message that can never be applied (dead-letter it)
    kInternal,     // a bug or an unexpected library state
    kCancelled,    // stopped on request (a transfer the caller cancelled)
  };

  Status() = default;
  static Status ok() { return Status(); }
  static Status invalidArgument(QString msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status notFound(QString msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status ioError(QString msg) { return {Code::kIoError, std::move(msg)}; }
  static Status corruption(QString msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status busy(QString msg) { return {Code::kBusy, std::move(msg)}; }
  static Status unavailable(QString msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status timeout(QString msg) { return {Code::kTimeout, std::move(msg)}; }
  static Status poison(QString msg) { return {Code::kPoison, std::move(msg)}; }
  static Status internal(QString msg) { return {Code::kInternal, std::move(msg)}; }
  static Status cancelled(QString msg) { return {Code::kCancelled, std::move(msg)}; }

  Status(Code code, QString message) : m_code(code), m_message(std::move(message)) {}

  bool isOk() const { return m_code == Code::kOk; }
  explicit operator bool() const { return isOk(); }
  Code code() const { return m_code; }
  const QString& message() const { return m_message; }

  // Busy, unavailable and timeout errors may succeed when tried again later.
  bool isRetryable() const {
    return m_code == Code::kBusy || m_code == Code::kUnavailable || m_code == Code::kTimeout;
  }

  // Adds context in front of the message as the error rises: "load config: <message>".
  Status withContext(const QString& context) const {
    if (isOk()) return *this;
    return Status(m_code, context + QStringLiteral(": ") + m_message);
  }

  // "<code name>: <message>", or "OK".
  QString toString() const;
  static const char* codeName(Code code);

 private:
  Code m_code = Code::kOk;
  QString m_message;
};

// Either a value or an error Status. Access the value only when ok().
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : m_value(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : m_status(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (m_status.isOk()) m_status = Status::internal(QStringLiteral("Result built from OK status"));
  }

  bool ok() const { return m_value.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status& status() const { return m_status; }

  T& value() & { return *m_value; }
  const T& value() const& { return *m_value; }
  T&& value() && { return std::move(*m_value); }
  T* operator->() { return &*m_value; }
  const T* operator->() const { return &*m_value; }
  T& operator*() & { return *m_value; }
  const T& operator*() const& { return *m_value; }

 private:
  std::optional<T> m_value;
  Status m_status;
};

}  // namespace hl

// Returns the Status of `expr` from the calling function when it is not OK.
#define HL_RETURN_IF_ERROR(expr)               \
  do {                                         \
    ::hl::Status hl_status_ = (expr);          \
    if (!hl_status_.isOk()) return hl_status_; \
  } while (0)
