#include "snapshot/s3_store.h"

#include "snapshot/curl_library.h"

#include <QRegularExpression>
#include <QUrl>
#include <QXmlStreamReader>

namespace hl {

namespace {

// The text of the first <tag> element of an XML document; "" when there is none.
QString xmlText(const QByteArray& xml, const QString& tag) {
  QXmlStreamReader r(xml);
  while (!r.atEnd()) {
    if (r.readNext() == QXmlStreamReader::StartElement && r.name() == tag)
      return r.readElementText();
  }
  return {};
}

// A bucket name that can be a DNS label of its own (virtual-host addressing; with TLS no dots,
// or the wildcard certificate would not match).
bool dnsCompatible(const QString& bucket, bool tls) {
  static const QRegularExpression re(QStringLiteral("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"));
  return re.match(bucket).hasMatch() && !(tls && bucket.contains('.'));
}

}  // namespace

QString S3Store::regionOfEndpoint(const QString& endpoint) {
  static const QRegularExpression re(QStringLiteral(
      R"((?:^|\.)s3[.-](?:dualstack\.)?([a-z]{2}(?:-gov)?-[a-z]+-\d+)\.amazonaws\.com(?::\d+)?$)"));
  const auto m = re.match(endpoint.toLower());
  return m.hasMatch() ? m.captured(1) : QString();
}

S3Store::S3Store(SnapshotS3Config config, TransferOptions transfer)
    : m_config(std::move(config)),
      m_session(transfer.withInsecureTls(m_config.insecureSkipVerify)) {
  m_prefix = m_config.path;
  while (m_prefix.startsWith('/')) m_prefix.remove(0, 1);
  while (m_prefix.endsWith('/')) m_prefix.chop(1);
  if (m_config.region.isEmpty()) m_config.region = regionOfEndpoint(m_config.endpoint);
  if (m_config.region.isEmpty()) m_config.region = QStringLiteral("us-east-1");
  m_virtualHost =
      m_config.addressing == QLatin1String("virtual") ||
      (m_config.addressing != QLatin1String("path") &&
       m_config.endpoint.toLower().section(':', 0, 0).endsWith(QLatin1String("amazonaws.com")) &&
       dnsCompatible(m_config.bucket, m_config.useSsl));
}

QString S3Store::describe() const {
  return QStringLiteral("s3 %1://%2/%3/%4")
      .arg(m_config.useSsl ? "https" : "http", m_config.endpoint, m_config.bucket, m_prefix);
}

QString S3Store::key(const QString& name) const {
  return m_prefix.isEmpty() ? name : m_prefix + '/' + name;
}

QByteArray S3Store::urlFor(const QString& k, const QByteArray& query) const {
  QByteArray url = m_config.useSsl ? "https://" : "http://";
  if (m_virtualHost)
    url += QUrl::toPercentEncoding(m_config.bucket) + '.' + m_config.endpoint.toUtf8();
  else
    url += m_config.endpoint.toUtf8() + '/' + QUrl::toPercentEncoding(m_config.bucket);
  if (!k.isEmpty() || m_virtualHost) url += '/' + QUrl::toPercentEncoding(k, "/");
  if (!query.isEmpty()) url += '?' + query;
  return url;
}

Status S3Store::perform(CurlRequest& r) {
  const QByteArray sigv4 = "aws:amz:" + m_config.region.toUtf8() + ":s3";
  const QByteArray user = m_config.accessKey.toUtf8();
  const QByteArray secret = m_config.secret.toUtf8();
  // Bodies are streamed and not hashed: the payload is signed as UNSIGNED-PAYLOAD (the
  // signature still covers the method, key, query and headers).
  r.headers << "x-amz-content-sha256: UNSIGNED-PAYLOAD";
  if (!m_config.sessionToken.isEmpty())
    r.headers << "x-amz-security-token: " + m_config.sessionToken.toUtf8();
  r.configure = [&](CURL* c) {
    curl::setopt(c, CURLOPT_AWS_SIGV4, sigv4.constData());
    curl::setopt(c, CURLOPT_USERNAME, user.constData());
    curl::setopt(c, CURLOPT_PASSWORD, secret.constData());
  };
  return m_session.run(r, [](const CurlRequest& q) { return interpret(q); });
}

Status S3Store::interpret(const CurlRequest& r) {
  if (r.httpStatus >= 200 && r.httpStatus < 300) {
    // CompleteMultipartUpload and CopyObject may answer 200 with an <Error> body.
    if (!r.response.contains("<Error>")) return Status::ok();
  }
  const QString code = xmlText(r.response, QStringLiteral("Code"));
  const QString s3msg = xmlText(r.response, QStringLiteral("Message"));
  QString msg = r.what() + QStringLiteral(": HTTP %1").arg(r.httpStatus);
  if (!code.isEmpty()) msg += ' ' + code;
  if (!s3msg.isEmpty()) msg += QStringLiteral(" (") + s3msg + ')';
  const QByteArray region = r.header("x-amz-bucket-region");
  if (!region.isEmpty())
    msg += QStringLiteral("; the bucket is in region %1: set [snapshot.s3] region = \"%1\"")
               .arg(QString::fromLatin1(region));
  if (r.httpStatus == 404) return Status::notFound(msg);
  if (r.httpStatus >= 500 || r.httpStatus == 429 || code == QLatin1String("SlowDown") ||
      code == QLatin1String("RequestTimeout") || code == QLatin1String("InternalError"))
    return Status::unavailable(msg);
  return Status::ioError(msg);
}

Status S3Store::put(const QString& name, QIODevice& source, qint64 size,
                    const QList<QPair<QString, QString>>&, const TransferProgress& progress) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  if (size < 0) return Status::invalidArgument(QStringLiteral("put %1: unknown size").arg(name));
  if (size > kMultipartThreshold) return putMultipart(name, source, size, progress);
  CurlRequest r = CurlRequest::upload(urlFor(key(name)), source, size, progress);
  HL_RETURN_IF_ERROR(perform(r).withContext(QStringLiteral("s3 put ") + name));
  if (size == 0 && progress && !progress(0, 0))
    return Status::cancelled(QStringLiteral("s3 put %1: cancelled").arg(name));
  return Status::ok();
}

Status S3Store::putMultipart(const QString& name, QIODevice& source, qint64 size,
                             const TransferProgress& progress) {
  const QString ctx = QStringLiteral("s3 put ") + name;
  CurlRequest create;
  create.method = "POST";
  create.url = urlFor(key(name), "uploads=");
  HL_RETURN_IF_ERROR(perform(create).withContext(ctx + QStringLiteral(" (create upload)")));
  const QString uploadId = xmlText(create.response, QStringLiteral("UploadId"));
  if (uploadId.isEmpty())
    return Status::ioError(ctx + QStringLiteral(": CreateMultipartUpload returned no UploadId"));
  const QByteArray idQuery = "uploadId=" + QUrl::toPercentEncoding(uploadId);

  auto abort = [&](const Status& why) {
    CurlRequest a;
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
    CurlRequest p = CurlRequest::upload(
        urlFor(key(name), "partNumber=" + QByteArray::number(part) + '&' + idQuery), source,
        qMin(kPartSize, size - offset), progress, offset, size);
    const Status st = perform(p);  // retried from the part's first byte (a file seeks)
    if (!st.isOk()) return abort(st.withContext(QStringLiteral("part %1").arg(part)));
    const QByteArray etag = p.header("etag");
    if (etag.isEmpty())
      return abort(Status::ioError(QStringLiteral("part %1: no ETag in the answer").arg(part)));
    complete += "<Part><PartNumber>" + QByteArray::number(part) + "</PartNumber><ETag>" + etag +
                "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";
  CurlRequest done;
  done.method = "POST";
  done.url = urlFor(key(name), idQuery);
  done.body = complete;
  done.hasBody = true;
  done.headers << "Content-Type: application/xml";
  const Status st = perform(done);
  if (!st.isOk()) return abort(st.withContext(QStringLiteral("complete upload")));
  return Status::ok();
}

Status S3Store::get(const QString& name, QIODevice& sink, const TransferProgress& progress) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  CurlRequest r;
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
    CurlRequest r;
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
  CurlRequest head;
  head.method = "HEAD";
  head.url = urlFor(key(name));
  HL_RETURN_IF_ERROR(perform(head).withContext(ctx));
  CurlRequest r;
  r.method = "DELETE";
  r.url = urlFor(key(name));
  return perform(r).withContext(ctx);
}

Status S3Store::copy(const QString& from, const QString& to) {
  HL_RETURN_IF_ERROR(validateObjectName(from));
  HL_RETURN_IF_ERROR(validateObjectName(to));
  const QString ctx = QStringLiteral("s3 copy %1 to %2").arg(from, to);
  CurlRequest r;
  r.method = "PUT";
  r.url = urlFor(key(to));
  r.headers << "x-amz-copy-source: " + QUrl::toPercentEncoding(m_config.bucket) + '/' +
                   QUrl::toPercentEncoding(key(from), "/");
  return perform(r).withContext(ctx);
}

}  // namespace hl
