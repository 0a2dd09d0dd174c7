#include "snapshot/curl_transfer.h"

#include "snapshot/curl_library.h"

#include <QCryptographicHash>
#include <QLoggingCategory>
#include <QThread>

#include <memory>

namespace hl {

Q_LOGGING_CATEGORY(lcStore, "hl.snapshot.store")

namespace {

// Error bodies and listings kept at most this long.
constexpr qsizetype kMaxResponse = 1 << 20;
constexpr qint64 kTransferMaxBackoffMs = 8000;

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl::api().slistFreeAll(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

bool appendAll(Slist& list, const QList<QByteArray>& lines) {
  for (const QByteArray& h : lines) {
    curl_slist* next = curl::api().slistAppend(list.get(), h.constData());
    if (!next) return false;
    (void)list.release();
    list.reset(next);
  }
  return true;
}

long statusOf(CURL* c) {
  long status = 0;
  curl::getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

// 2xx, or an SFTP transfer (no HTTP status at all).
bool bodyIsPayload(long status) {
  return status == 0 || (status >= 200 && status < 300);
}

struct Call {
  CurlRequest* r;
  CURL* curl;
  qint64 uploaded = 0;  // of this attempt
  qint64 resumeFrom = 0;
};

bool reportProgress(CurlRequest& r, qint64 done) {
  if (r.progress && *r.progress && !(*r.progress)(r.progressBase + done, r.progressTotal)) {
    r.cancelled = true;
    return false;
  }
  return true;
}

size_t readCb(char* buf, size_t size, size_t n, void* user) {
  auto* call = static_cast<Call*>(user);
  CurlRequest& r = *call->r;
  const qint64 want = qMin<qint64>(qint64(size * n), r.uploadSize - call->uploaded);
  if (want <= 0) return 0;
  const qint64 got = r.source->read(buf, want);
  if (got < 0) {
    r.localError = QStringLiteral("reading the source failed: ") + r.source->errorString();
    return CURL_READFUNC_ABORT;
  }
  if (got == 0) {
    r.localError = QStringLiteral("the source ended after %1 of %2 bytes")
                       .arg(r.progressBase + call->uploaded)
                       .arg(r.progressBase + r.uploadSize);
    return CURL_READFUNC_ABORT;
  }
  call->uploaded += got;
  r.moved = call->uploaded;
  if (!reportProgress(r, call->uploaded)) return CURL_READFUNC_ABORT;
  return size_t(got);
}

size_t writeCb(char* data, size_t size, size_t n, void* user) {
  auto* call = static_cast<Call*>(user);
  CurlRequest& r = *call->r;
  const size_t len = size * n;
  if (r.sink && bodyIsPayload(statusOf(call->curl))) {
    if (r.sink->write(data, qint64(len)) != qint64(len)) {
      r.localError = QStringLiteral("writing the object failed: ") + r.sink->errorString();
      return 0;
    }
    r.moved += qint64(len);
    if (len > 0 && !reportProgress(r, r.moved)) return 0;
    return len;
  }
  if (r.response.size() < kMaxResponse) r.response.append(data, qsizetype(len));
  return len;
}

size_t headerCb(char* data, size_t size, size_t n, void* user) {
  auto* call = static_cast<Call*>(user);
  CurlRequest& r = *call->r;
  const QByteArray line = QByteArray(data, qsizetype(size * n)).trimmed();
  if (line.startsWith("HTTP/")) r.responseHeaders.clear();  // a new response (100 Continue)
  const int colon = line.indexOf(':');
  if (colon > 0 && r.responseHeaders.size() < 200) {
    const QByteArray name = line.left(colon).trimmed().toLower();
    const QByteArray value = line.mid(colon + 1).trimmed();
    r.responseHeaders.append({name, value});
    if (name == "content-length" && r.sink && r.progressTotal < 0 &&
        bodyIsPayload(statusOf(call->curl)))
      r.progressTotal = call->resumeFrom + value.toLongLong();
  }
  return size * n;
}

Status transportError(CURLcode rc, const QString& msg) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status::timeout(msg);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_UPLOAD_FAILED:
    case CURLE_SSH:  // the SSH session broke (server gone mid-transfer)
      return Status::unavailable(msg);
    case CURLE_REMOTE_FILE_NOT_FOUND:
      return Status::notFound(msg);
    default:
      return Status::ioError(msg);
  }
}

bool retryable(const Status& s) {
  return s.code() == Status::Code::kUnavailable || s.code() == Status::Code::kTimeout;
}

}  // namespace

CurlRequest CurlRequest::upload(QByteArray url, QIODevice& source, qint64 size,
                                const TransferProgress& progress, qint64 offset, qint64 total) {
  CurlRequest r;
  r.method = "PUT";
  r.url = std::move(url);
  r.source = &source;
  r.uploadSize = size;
  r.progress = &progress;
  r.progressBase = offset;
  r.progressTotal = total < 0 ? size : total;
  return r;
}

QByteArray CurlRequest::header(const QByteArray& lowerName) const {
  for (const auto& [name, value] : responseHeaders)
    if (name == lowerName) return value;
  return {};
}

QString CurlRequest::what() const {
  const qsizetype q = url.indexOf('?');
  QByteArray shown = q < 0 ? url : url.left(q);
  // Never show a user:password@ part of the URL.
  const qsizetype scheme = shown.indexOf("://");
  const qsizetype at = shown.indexOf('@', scheme < 0 ? 0 : scheme);
  const qsizetype slash = shown.indexOf('/', scheme < 0 ? 0 : scheme + 3);
  if (scheme >= 0 && at > 0 && (slash < 0 || at < slash)) shown.remove(scheme + 3, at - scheme - 2);
  return QString::fromLatin1(method) + ' ' + QString::fromUtf8(shown);
}

CurlSession::CurlSession(TransferOptions options) : m_options(options) {
  if (const curl::Api* api = curl::load(&m_unavailable)) {
    m_curl = api->easyInit();
    if (!m_curl) m_unavailable = QStringLiteral("curl_easy_init failed");
  }
}

CurlSession::~CurlSession() {
  if (m_curl) curl::api().easyCleanup(m_curl);
}

Status CurlSession::performOnce(CurlRequest& r, qint64 resumeFrom) {
  if (!m_curl) return Status::internal(r.what() + QStringLiteral(": ") + m_unavailable);
  CURL* c = m_curl;
  curl::api().easyReset(c);  // keeps the connection cache: the next request reuses the connection
  Call call{&r, c, 0, resumeFrom};
  r.httpStatus = 0;
  r.response.clear();
  r.responseHeaders.clear();
  r.fileTime = -1;
  r.localError.clear();
  r.detail.clear();
  if (r.source) r.moved = 0;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl::setopt(c, CURLOPT_URL, r.url.constData());
  curl::setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl::setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl::setopt(c, CURLOPT_CONNECTTIMEOUT_MS, long(m_options.connectTimeoutMs));
  curl::setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl::setopt(c, CURLOPT_LOW_SPEED_TIME, long(qMax<qint64>(1, m_options.idleTimeoutMs / 1000)));
  curl::setopt(c, CURLOPT_SSL_VERIFYPEER, m_options.insecureSkipVerify ? 0L : 1L);
  curl::setopt(c, CURLOPT_SSL_VERIFYHOST, m_options.insecureSkipVerify ? 0L : 2L);
  curl::setopt(c, CURLOPT_WRITEFUNCTION, writeCb);
  curl::setopt(c, CURLOPT_WRITEDATA, &call);
  curl::setopt(c, CURLOPT_HEADERFUNCTION, headerCb);
  curl::setopt(c, CURLOPT_HEADERDATA, &call);
  curl::setopt(c, CURLOPT_FILETIME, 1L);
  // HL_CURL_VERBOSE=1: libcurl's own trace on stderr, for debugging a server (shows headers,
  // but never the SSH or Basic password; an S3 signature is not a secret).
  static const bool verbose = qEnvironmentVariableIntValue("HL_CURL_VERBOSE") == 1;
  if (verbose) curl::setopt(c, CURLOPT_VERBOSE, 1L);
  // Large buffers: fewer callbacks and syscalls on a 200 MB transfer.
  curl::setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
  curl::setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);

  Slist headers;
  if (!appendAll(headers, r.headers))
    return Status::internal(QStringLiteral("curl_slist_append failed"));
  // The method matters to HTTP only; for SFTP it names the operation in messages.
  const bool http = r.url.startsWith("http");
  if (r.noBody || r.method == "HEAD") {
    curl::setopt(c, CURLOPT_NOBODY, 1L);
    if (http && r.method != "HEAD" && r.method != "GET")
      curl::setopt(c, CURLOPT_CUSTOMREQUEST, r.method.constData());
  } else if (r.source) {
    curl::setopt(c, CURLOPT_UPLOAD, 1L);
    curl::setopt(c, CURLOPT_READFUNCTION, readCb);
    curl::setopt(c, CURLOPT_READDATA, &call);
    curl::setopt(c, CURLOPT_INFILESIZE_LARGE, curl_off_t(r.uploadSize));
    if (http && r.method != "PUT") curl::setopt(c, CURLOPT_CUSTOMREQUEST, r.method.constData());
  } else if (!http) {
    // SFTP download or directory listing: nothing more to say.
  } else if (r.hasBody) {
    curl::setopt(c, CURLOPT_POSTFIELDS, r.body.constData());
    curl::setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(r.body.size()));
    curl::setopt(c, CURLOPT_CUSTOMREQUEST, r.method.constData());
  } else if (r.method == "PUT" || r.method == "POST") {
    curl::setopt(c, CURLOPT_POSTFIELDS, "");
    curl::setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(0));
    curl::setopt(c, CURLOPT_CUSTOMREQUEST, r.method.constData());
  } else if (r.method != "GET") {
    curl::setopt(c, CURLOPT_CUSTOMREQUEST, r.method.constData());
  }
  if (resumeFrom > 0) curl::setopt(c, CURLOPT_RESUME_FROM_LARGE, curl_off_t(resumeFrom));
  curl::setopt(c, CURLOPT_HTTPHEADER, headers.get());
  if (r.configure) r.configure(c);

  const CURLcode rc = curl::api().easyPerform(c);
  r.httpStatus = statusOf(c);
  long ft = -1;
  if (curl::getinfo(c, CURLINFO_FILETIME, &ft) == CURLE_OK && ft >= 0) r.fileTime = ft;
  // The options pointed at locals (headers, errbuf, call): drop them before they go.
  curl::api().easyReset(c);
  if (r.cancelled) return Status::cancelled(r.what() + QStringLiteral(": cancelled"));
  if (!r.localError.isEmpty()) return Status::ioError(r.what() + ": " + r.localError);
  if (rc != CURLE_OK) {
    QString msg = r.what() + QStringLiteral(": ") +
                  QString::fromUtf8(errbuf[0] ? errbuf : curl::api().easyStrerror(rc));
    if (!r.detail.isEmpty()) msg += QStringLiteral(" (") + r.detail + ')';
    return transportError(rc, msg);
  }
  return Status::ok();
}

Status CurlSession::run(CurlRequest& r, const Interpret& interpret) {
  const qint64 sourceStart = r.source ? r.source->pos() : 0;
  const bool canRewind = !r.source || !r.source->isSequential();
  r.moved = 0;
  qint64 backoff = m_options.firstBackoffMs;
  for (int attempt = 0;; ++attempt) {
    const qint64 resumeFrom = r.sink ? r.moved : 0;
    Status st = performOnce(r, resumeFrom);
    if (st.isOk()) st = interpret(r);
    if (st.isOk() || !retryable(st) || !r.retry || attempt >= m_options.retries || !canRewind)
      return st;
    if (r.source && !r.source->seek(sourceStart))
      return st.withContext(QStringLiteral("cannot rewind the source to retry"));
    qCInfo(lcStore).noquote() << QStringLiteral("retry %1 of %2 in %3 ms:")
                                     .arg(attempt + 1)
                                     .arg(m_options.retries)
                                     .arg(backoff)
                              << st.message();
    // Wait, still honouring a cancel.
    for (qint64 waited = 0; waited < backoff; waited += 100) {
      if (!reportProgress(r, r.sink ? r.moved : 0))
        return Status::cancelled(r.what() + QStringLiteral(": cancelled"));
      QThread::msleep(100);
    }
    backoff = qMin(backoff * 2, kTransferMaxBackoffMs);
  }
}

QString sshFingerprint(const QByteArray& blob) {
  QByteArray b64 = QCryptographicHash::hash(blob, QCryptographicHash::Sha256).toBase64();
  while (b64.endsWith('=')) b64.chop(1);
  return QStringLiteral("SHA256:") + QString::fromLatin1(b64);
}

}  // namespace hl
