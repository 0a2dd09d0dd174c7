#include "snapshot/s3_store.h"

#include <curl/curl.h>

#include <QUrl>
#include <QXmlStreamReader>

#include <memory>
#include <mutex>

namespace hl {

namespace {

constexpr long kConnectTimeoutS = 10;
// A transfer slower than 1 byte/s for this long is given up (a dead server or link).
constexpr long kLowSpeedTimeS = 60;
// Error bodies kept at most this long (an S3 error is a few hundred bytes).
constexpr qsizetype kMaxBody = 1 << 20;

void curlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// The text of the first <tag> element of an XML document; "" when there is none.
QString xmlText(const QByteArray& xml, const QString& tag) {
  QXmlStreamReader r(xml);
  while (!r.atEnd()) {
    if (r.readNext() == QXmlStreamReader::StartElement && r.name() == tag)
      return r.readElementText();
  }
  return {};
}

}  // namespace

struct S3Store::Request {
  QByteArray method = "GET";
  QByteArray url;
  QList<QByteArray> headers;
  // Upload body: `source` (up to `uploadSize` bytes) or `body`.
  QIODevice* source = nullptr;
  qint64 uploadSize = -1;
  QByteArray body;
  bool hasBody = false;
  // Download: 2xx bodies go into `sink` when set, else into `response`.
  QIODevice* sink = nullptr;
  QByteArray response;
  // Progress of this request's bytes, offset by `progressBase`, of `progressTotal`.
  const TransferProgress* progress = nullptr;
  qint64 progressBase = 0;
  qint64 progressTotal = -1;
  // Filled by perform().
  long httpStatus = 0;
  QByteArray etag;
  qint64 moved = 0;
  bool cancelled = false;
  QString localError;  // the source or sink failed
  CURL* curl = nullptr;
};

namespace {

size_t readCb(char* buf, size_t size, size_t n, void* user) {
  auto* r = static_cast<S3Store::Request*>(user);
  const qint64 want = qMin<qint64>(qint64(size * n), r->uploadSize - r->moved);
  if (want <= 0) return 0;
  const qint64 got = r->source->read(buf, want);
  if (got < 0) {
    r->localError = QStringLiteral("reading the source failed: ") + r->source->errorString();
    return CURL_READFUNC_ABORT;
  }
  if (got == 0) {
    r->localError = QStringLiteral("the source ended after %1 of %2 bytes")
                        .arg(r->progressBase + r->moved)
                        .arg(r->progressBase + r->uploadSize);
    return CURL_READFUNC_ABORT;
  }
  r->moved += got;
  if (r->progress && *r->progress &&
      !(*r->progress)(r->progressBase + r->moved, r->progressTotal)) {
    r->cancelled = true;
    return CURL_READFUNC_ABORT;
  }
  return size_t(got);
}

size_t writeCb(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<S3Store::Request*>(user);
  const size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
  if (r->sink && status >= 200 && status < 300) {
    if (r->sink->write(data, qint64(len)) != qint64(len)) {
      r->localError = QStringLiteral("writing the object failed: ") + r->sink->errorString();
      return 0;
    }
    r->moved += qint64(len);
    if (r->progress && *r->progress && len > 0 &&
        !(*r->progress)(r->progressBase + r->moved, r->progressTotal)) {
      r->cancelled = true;
      return 0;
    }
    return len;
  }
  if (r->response.size() < kMaxBody) r->response.append(data, qsizetype(len));
  return len;
}

size_t headerCb(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<S3Store::Request*>(user);
  const QByteArray line = QByteArray(data, qsizetype(size * n)).trimmed();
  const int colon = line.indexOf(':');
  if (colon > 0) {
    const QByteArray name = line.left(colon).trimmed().toLower();
    const QByteArray value = line.mid(colon + 1).trimmed();
    if (name == "etag") r->etag = value;
    if (name == "content-length" && r->sink && r->progressTotal < 0) {
      long status = 0;
      curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
      if (status >= 200 && status < 300) r->progressTotal = value.toLongLong();
    }
  }
  return size * n;
}

}  // namespace

S3Store::S3Store(SnapshotS3Config config) : m_config(std::move(config)) {
  curlGlobalInit();
  m_prefix = m_config.path;
  while (m_prefix.startsWith('/')) m_prefix.remove(0, 1);
  while (m_prefix.endsWith('/')) m_prefix.chop(1);
  if (m_config.region.isEmpty()) m_config.region = QStringLiteral("us-east-1");
}

QString S3Store::describe() const {
  return QStringLiteral("s3 %1://%2/%3/%4")
      .arg(m_config.useSsl ? "https" : "http", m_config.endpoint, m_config.bucket, m_prefix);
}

QString S3Store::key(const QString& name) const {
  return m_prefix.isEmpty() ? name : m_prefix + '/' + name;
}

QByteArray S3Store::urlFor(const QString& k, const QByteArray& query) const {
  QByteArray url = (m_config.useSsl ? "https://" : "http://") + m_config.endpoint.toUtf8() + '/' +
                   QUrl::toPercentEncoding(m_config.bucket);
  if (!k.isEmpty()) url += '/' + QUrl::toPercentEncoding(k, "/");
  if (!query.isEmpty()) url += '?' + query;
  return url;
}

Status S3Store::perform(Request& r) const {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Status::internal(QStringLiteral("curl_easy_init failed"));
  CURL* c = curl.get();
  r.curl = c;
  r.moved = 0;
  r.response.clear();
  r.etag.clear();
  char errbuf[CURL_ERROR_SIZE] = {0};
  const QByteArray sigv4 = "aws:amz:" + m_config.region.toUtf8() + ":s3";
  const QByteArray user = m_config.accessKey.toUtf8();
  const QByteArray secret = m_config.secret.toUtf8();
  curl_easy_setopt(c, CURLOPT_URL, r.url.constData());
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.constData());
  curl_easy_setopt(c, CURLOPT_USERNAME, user.constData());
  curl_easy_setopt(c, CURLOPT_PASSWORD, secret.constData());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutS);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, kLowSpeedTimeS);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, writeCb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, headerCb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);

  QList<QByteArray> headers = r.headers;
  // Bodies are streamed and not hashed: the payload is signed as UNSIGNED-PAYLOAD (the
  // signature still covers the method, key, query and headers).
  headers << "x-amz-content-sha256: UNSIGNED-PAYLOAD";
  if (!m_config.sessionToken.isEmpty())
    headers << "x-amz-security-token: " + m_config.sessionToken.toUtf8();
  std::unique_ptr<curl_slist, SlistDeleter> list;
  for (const QByteArray& h : headers) {
    curl_slist* next = curl_slist_append(list.get(), h.constData());
    if (!next) return Status::internal(QStringLiteral("curl_slist_append failed"));
    (void)list.release();
    list.reset(next);
  }

  if (r.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (r.source) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, readCb);
    curl_easy_setopt(c, CURLOPT_READDATA, &r);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, curl_off_t(r.uploadSize));
  } else if (r.hasBody) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.body.constData());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(r.body.size()));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.constData());
  } else if (r.method == "PUT" || r.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(0));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.constData());
  } else if (r.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.constData());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());

  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.httpStatus);
  r.curl = nullptr;
  const QString what =
      QString::fromLatin1(r.method) + ' ' +
      QString::fromUtf8(r.url.left(r.url.indexOf('?') < 0 ? r.url.size() : r.url.indexOf('?')));
  if (r.cancelled) return Status::cancelled(what + QStringLiteral(": cancelled"));
  if (!r.localError.isEmpty()) return Status::ioError(what + ": " + r.localError);
  if (rc != CURLE_OK) {
    const QString msg = what + QStringLiteral(": ") +
                        QString::fromUtf8(errbuf[0] ? errbuf : curl_easy_strerror(rc));
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
        return Status::unavailable(msg);
      default:
        return Status::ioError(msg);
    }
  }
  if (r.httpStatus >= 200 && r.httpStatus < 300) return Status::ok();
  const QString code = xmlText(r.response, QStringLiteral("Code"));
  const QString s3msg = xmlText(r.response, QStringLiteral("Message"));
  QString msg = what + QStringLiteral(": HTTP %1").arg(r.httpStatus);
  if (!code.isEmpty()) msg += ' ' + code;
  if (!s3msg.isEmpty()) msg += QStringLiteral(" (") + s3msg + ')';
  if (r.httpStatus == 404) return Status::notFound(msg);
  if (r.httpStatus >= 500 || r.httpStatus == 429 || code == QLatin1String("SlowDown") ||
      code == QLatin1String("RequestTimeout"))
    return Status::unavailable(msg);
  return Status::ioError(msg);
}

Status S3Store::put(const QString& name, QIODevice& source, qint64 size,
                    const QList<QPair<QString, QString>>&, const TransferProgress& progress) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  if (size < 0) return Status::invalidArgument(QStringLiteral("put %1: unknown size").arg(name));
  if (size > kMultipartThreshold) return putMultipart(name, source, size, progress);
  Request r;
  r.method = "PUT";
  r.url = urlFor(key(name));
  r.source = &source;
  r.uploadSize = size;
  r.progress = &progress;
  r.progressTotal = size;
  HL_RETURN_IF_ERROR(perform(r).withContext(QStringLiteral("s3 put ") + name));
  if (size == 0 && progress && !progress(0, 0))
    return Status::cancelled(QStringLiteral("s3 put %1: cancelled").arg(name));
  return Status::ok();
}

Status S3Store::putMultipart(const QString& name, QIODevice& source, qint64 size,
                             const TransferProgress& progress) {
  const QString ctx = QStringLiteral("s3 put ") + name;
  Request create;
  create.method = "POST";
  create.url = urlFor(key(name), "uploads=");
  HL_RETURN_IF_ERROR(perform(create).withContext(ctx + QStringLiteral(" (create upload)")));
  const QString uploadId = xmlText(create.response, QStringLiteral("UploadId"));
  if (uploadId.isEmpty())
    return Status::ioError(ctx + QStringLiteral(": CreateMultipartUpload returned no UploadId"));
  const QByteArray idQuery = "uploadId=" + QUrl::toPercentEncoding(uploadId);

  auto abort = [&](const Status& why) {
    Request a;
    a.method = "DELETE";
    a.url = urlFor(key(name), idQuery);
    const Status st = perform(a);
    if (!st.isOk() && st.code() != Status::Code::kNotFound)
      return why.withContext(
          ctx + QStringLiteral(" (and aborting upload failed: %1)").arg(st.toString()));
    return why.withContext(ctx);
  };

  QByteArray complete = "<CompleteMultipartUpload>";
  int part = 0;
  for (qint64 offset = 0; offset < size; offset += kPartSize) {
    ++part;
    Request p;
    p.method = "PUT";
    p.url = urlFor(key(name), "partNumber=" + QByteArray::number(part) + '&' + idQuery);
    p.source = &source;
    p.uploadSize = qMin(kPartSize, size - offset);
    p.progress = &progress;
    p.progressBase = offset;
    p.progressTotal = size;
    const Status st = perform(p);
    if (!st.isOk()) return abort(st.withContext(QStringLiteral("part %1").arg(part)));
    if (p.etag.isEmpty())
      return abort(Status::ioError(QStringLiteral("part %1: no ETag in the answer").arg(part)));
    complete += "<Part><PartNumber>" + QByteArray::number(part) + "</PartNumber><ETag>" + p.etag +
                "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";
  Request done;
  done.method = "POST";
  done.url = urlFor(key(name), idQuery);
  done.body = complete;
  done.hasBody = true;
  done.headers << "Content-Type: application/xml";
  Status st = perform(done);
  // CompleteMultipartUpload may answer 200 with an <Error> body.
  if (st.isOk() && done.response.contains("<Error>"))
    st = Status::ioError(QStringLiteral("CompleteMultipartUpload: %1 (%2)")
                             .arg(xmlText(done.response, QStringLiteral("Code")),
                                  xmlText(done.response, QStringLiteral("Message"))));
  if (!st.isOk()) return abort(st.withContext(QStringLiteral("complete upload")));
  return Status::ok();
}

Status S3Store::get(const QString& name, QIODevice& sink, const TransferProgress& progress) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  Request r;
  r.url = urlFor(key(name));
  r.sink = &sink;
  r.progress = &progress;
  return perform(r).withContext(QStringLiteral("s3 get ") + name);
}

Result<QList<StoreObject>> S3Store::list() {
  QList<StoreObject> out;
  const QString prefix = m_prefix.isEmpty() ? QString() : m_prefix + '/';
  QString token;
  for (;;) {
    // Query parameters in sorted order: the signature's canonical query string.
    QByteArray query;
    if (!token.isEmpty()) query += "continuation-token=" + QUrl::toPercentEncoding(token) + '&';
    query += "list-type=2";
    if (!prefix.isEmpty()) query += "&prefix=" + QUrl::toPercentEncoding(prefix);
    Request r;
    r.url = urlFor(QString(), query);
    HL_RETURN_IF_ERROR(perform(r).withContext(QStringLiteral("s3 list")));
    QXmlStreamReader x(r.response);
    bool truncated = false;
    QString next;
    StoreObject cur;
    bool inContents = false;
    while (!x.atEnd()) {
      const auto t = x.readNext();
      if (t == QXmlStreamReader::StartElement) {
        const auto n = x.name();
        if (n == QLatin1String("Contents")) {
          inContents = true;
          cur = StoreObject();
        } else if (inContents && n == QLatin1String("Key")) {
          cur.name = x.readElementText().mid(prefix.size());
        } else if (inContents && n == QLatin1String("Size")) {
          cur.size = x.readElementText().toLongLong();
        } else if (inContents && n == QLatin1String("LastModified")) {
          cur.modified = QDateTime::fromString(x.readElementText(), Qt::ISODateWithMs).toUTC();
        } else if (!inContents && n == QLatin1String("IsTruncated")) {
          truncated = x.readElementText() == QLatin1String("true");
        } else if (!inContents && n == QLatin1String("NextContinuationToken")) {
          next = x.readElementText();
        }
      } else if (t == QXmlStreamReader::EndElement && x.name() == QLatin1String("Contents")) {
        inContents = false;
        if (validateObjectName(cur.name).isOk()) out.append(cur);
      }
    }
    if (x.hasError())
      return Status::corruption(QStringLiteral("s3 list: bad XML: ") + x.errorString());
    if (!truncated) break;
    if (next.isEmpty() || next == token)
      return Status::corruption(QStringLiteral("s3 list: truncated without a continuation token"));
    token = next;
  }
  return out;
}

Status S3Store::remove(const QString& name) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  const QString ctx = QStringLiteral("s3 remove ") + name;
  Request head;
  head.method = "HEAD";
  head.url = urlFor(key(name));
  HL_RETURN_IF_ERROR(perform(head).withContext(ctx));
  Request r;
  r.method = "DELETE";
  r.url = urlFor(key(name));
  return perform(r).withContext(ctx);
}

Status S3Store::copy(const QString& from, const QString& to) {
  HL_RETURN_IF_ERROR(validateObjectName(from));
  HL_RETURN_IF_ERROR(validateObjectName(to));
  const QString ctx = QStringLiteral("s3 copy %1 to %2").arg(from, to);
  Request r;
  r.method = "PUT";
  r.url = urlFor(key(to));
  r.headers << "x-amz-copy-source: " + QUrl::toPercentEncoding(m_config.bucket) + '/' +
                   QUrl::toPercentEncoding(key(from), "/");
  Status st = perform(r);
  if (st.isOk() && r.response.contains("<Error>"))
    st = Status::ioError(QStringLiteral("CopyObject: %1 (%2)")
                             .arg(xmlText(r.response, QStringLiteral("Code")),
                                  xmlText(r.response, QStringLiteral("Message"))));
  return st.withContext(ctx);
}

}  // namespace hl
