#include "snapshot/webdav_store.h"

#include "snapshot/curl_library.h"

#include <QLocale>
#include <QUrl>
#include <QUrlQuery>
#include <QXmlStreamReader>

namespace hl {

namespace {

const QByteArray kPropfind =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    "<D:propfind xmlns:D=\"DAV:\"><D:prop><D:resourcetype/><D:getcontentlength/>"
    "<D:getlastmodified/></D:prop></D:propfind>";

QString reason(long status) {
  switch (status) {
    case 401:
      return QStringLiteral("Unauthorized: check login and secret in the URL");
    case 403:
      return QStringLiteral("Forbidden");
    case 404:
      return QStringLiteral("Not Found");
    case 405:
      return QStringLiteral("Method Not Allowed: is WebDAV enabled for this URL?");
    case 409:
      return QStringLiteral("Conflict: a parent folder is missing");
    case 412:
      return QStringLiteral("Precondition Failed");
    case 423:
      return QStringLiteral("Locked");
    case 507:
      return QStringLiteral("Insufficient Storage");
    default:
      return {};
  }
}

// RFC 1123 date of getlastmodified ("Mon, 30 Nov 2026 18:21:18 GMT").
QDateTime httpDate(const QString& s) {
  const QDateTime t =
      QLocale::c().toDateTime(s.trimmed(), QStringLiteral("ddd, dd MMM yyyy HH:mm:ss 'GMT'"));
  return t.isValid() ? QDateTime(t.date(), t.time(), Qt::UTC) : QDateTime();
}

}  // namespace

WebDavStore::WebDavStore(SnapshotWebDavConfig config, TransferOptions transfer)
    : m_session(transfer.withInsecureTls(config.insecureSkipVerify)) {
  // Go's URL: the query carries dir, login and secret; anything else in it is dropped.
  QUrl url(config.url);
  const QUrlQuery query(url);
  m_login = query.queryItemValue(QStringLiteral("login"), QUrl::FullyDecoded).toUtf8();
  m_secret = query.queryItemValue(QStringLiteral("secret"), QUrl::FullyDecoded).toUtf8();
  QString dir = query.queryItemValue(QStringLiteral("dir"), QUrl::FullyDecoded);
  url.setQuery(QString());
  url.setUserInfo(QString());
  url.setFragment(QString());
  QString path = url.path();
  if (!path.endsWith('/')) path += '/';
  while (dir.startsWith('/')) dir.remove(0, 1);
  while (dir.endsWith('/')) dir.chop(1);
  if (!dir.isEmpty()) path += dir + '/';
  url.setPath(path);
  m_root = url.toEncoded();
  m_rootPath = path.toUtf8();
  m_shown = QStringLiteral("webdav ") + url.toString() +
            (m_login.isEmpty() ? QString()
                               : QStringLiteral(" (login %1)").arg(QString::fromUtf8(m_login)));
}

QString WebDavStore::describe() const {
  return m_shown;
}

QByteArray WebDavStore::urlFor(const QString& name) const {
  return m_root + QUrl::toPercentEncoding(name, "/");
}

Status WebDavStore::interpret(const CurlRequest& r) {
  if (r.httpStatus >= 200 && r.httpStatus < 300) return Status::ok();
  // A GET of a folder is redirected to "name/": the caller decides (libcurl does not follow).
  if (r.method == "GET" && (r.httpStatus == 301 || r.httpStatus == 302)) return Status::ok();
  QString msg = r.what() + QStringLiteral(": HTTP %1").arg(r.httpStatus);
  if (const QString why = reason(r.httpStatus); !why.isEmpty()) msg += ' ' + why;
  if (r.httpStatus == 404) return Status::notFound(msg);
  if ((r.httpStatus >= 500 && r.httpStatus != 501 && r.httpStatus != 507) || r.httpStatus == 429)
    return Status::unavailable(msg);
  return Status::ioError(msg);
}

Status WebDavStore::perform(CurlRequest& r) {
  r.configure = [this](CURL* c) {
    if (m_login.isEmpty()) return;
    curl::setopt(c, CURLOPT_HTTPAUTH, long(CURLAUTH_BASIC));
    curl::setopt(c, CURLOPT_USERNAME, m_login.constData());
    curl::setopt(c, CURLOPT_PASSWORD, m_secret.constData());
  };
  return m_session.run(r, [](const CurlRequest& q) { return interpret(q); });
}

Status WebDavStore::ensureFolders(const QString& name) {
  const QString folder = name.left(name.lastIndexOf('/') + 1);
  if (m_folders.contains(folder)) return Status::ok();
  HL_RETURN_IF_ERROR(makeFolders(name));
  m_folders.insert(folder);
  return Status::ok();
}

Status WebDavStore::makeFolders(const QString& name) {
  // The store's own folder and its parents, then the object's folders.
  QStringList folders;
  const QString rootPath = QString::fromUtf8(m_rootPath);
  const QUrl root(QString::fromLatin1(m_root));
  QString prefix;
  for (const QString& part : rootPath.split('/', Qt::SkipEmptyParts)) {
    prefix += '/' + part;
    QUrl u = root;
    u.setPath(prefix + '/');
    folders << QString::fromLatin1(u.toEncoded());
  }
  const QStringList parts = name.split('/');
  QString sub;
  for (qsizetype i = 0; i + 1 < parts.size(); ++i) {
    sub += parts[i] + '/';
    folders << QString::fromLatin1(urlFor(sub));
  }
  // From the deepest folder up until one exists or is made (409 = its parent is missing),
  // then down again: only the folders that are missing are made, and a base the account may
  // not touch (a Nextcloud user's parents) is never asked for.
  auto mkcol = [this](const QString& folder, long* http) {
    CurlRequest r;
    r.method = "MKCOL";
    r.url = folder.toLatin1();
    const Status st = perform(r);
    *http = r.httpStatus;
    // 405: it exists already (RFC 4918 9.3.1); some servers answer 301 to add a slash.
    return (st.isOk() || r.httpStatus == 405 || r.httpStatus == 301) ? Status::ok() : st;
  };
  qsizetype i = folders.size() - 1;
  for (; i >= 0; --i) {
    long http = 0;
    const Status st = mkcol(folders[i], &http);
    if (st.isOk()) break;
    if (http != 409) return st;
  }
  for (qsizetype j = qMax<qsizetype>(0, i + 1); j < folders.size(); ++j) {
    long http = 0;
    HL_RETURN_IF_ERROR(mkcol(folders[j], &http));
  }
  return Status::ok();
}

Status WebDavStore::performMakingFolders(CurlRequest& r, const QString& name,
                                         const std::function<bool()>& rewind) {
  const Status st = perform(r);
  if (st.isOk() || r.httpStatus != 409 || !rewind()) return st;
  HL_RETURN_IF_ERROR(makeFolders(name));
  return perform(r);
}

Status WebDavStore::moveInto(const QString& from, const QString& to) {
  CurlRequest r;
  r.method = "MOVE";
  r.url = urlFor(from);
  r.headers << "Destination: " + urlFor(to) << "Overwrite: T";
  return perform(r);
}

Status WebDavStore::put(const QString& name, QIODevice& source, qint64 size,
                        const QList<QPair<QString, QString>>&, const TransferProgress& progress) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  const QString ctx = QStringLiteral("webdav put ") + name;
  if (size < 0) return Status::invalidArgument(ctx + QStringLiteral(": unknown size"));
  const QString temp = temporaryName(name);
  const qint64 start = source.pos();
  // Folders first (once per folder): servers disagree on what a PUT into a missing folder
  // answers (409, or lighttpd's 500 for an empty body).
  HL_RETURN_IF_ERROR(ensureFolders(name).withContext(ctx));
  CurlRequest r = CurlRequest::upload(urlFor(temp), source, size, progress);
  Status st = performMakingFolders(
      r, name, [&] { return source.isSequential() ? source.pos() == start : source.seek(start); });
  if (st.isOk() && size == 0 && progress && !progress(0, 0))
    st = Status::cancelled(ctx + QStringLiteral(": cancelled"));
  if (st.isOk()) st = moveInto(temp, name);
  if (!st.isOk()) {
    CurlRequest del;  // best effort: the retention pass removes what this leaves
    del.method = "DELETE";
    del.url = urlFor(temp);
    del.retry = false;
    (void)perform(del);
    return st.withContext(ctx);
  }
  return Status::ok();
}

Status WebDavStore::get(const QString& name, QIODevice& sink, const TransferProgress& progress) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  CurlRequest r;
  r.url = urlFor(name);
  r.sink = &sink;
  r.progress = &progress;
  const Status st = perform(r);
  // A folder of that name: servers redirect to "name/", which is no object.
  if (st.isOk() && (r.httpStatus < 200 || r.httpStatus >= 300))
    return Status::notFound(r.what() + QStringLiteral(": a folder, not an object"));
  return st.withContext(QStringLiteral("webdav get ") + name);
}

Status WebDavStore::listFolder(const QString& folder, int depth, QList<StoreObject>& out) {
  CurlRequest r;
  r.method = "PROPFIND";
  r.url = urlFor(folder);
  r.headers << "Depth: 1"
            << "Content-Type: application/xml; charset=utf-8";
  r.body = kPropfind;
  r.hasBody = true;
  const Status st = perform(r);
  if (st.code() == Status::Code::kNotFound) return Status::ok();  // nothing stored yet
  HL_RETURN_IF_ERROR(st);
  if (r.httpStatus != 207)
    return Status::ioError(
        r.what() + QStringLiteral(": HTTP %1, expected 207 Multi-Status").arg(r.httpStatus));

  QXmlStreamReader x(r.response);
  struct Entry {
    QString href;
    bool collection = false;
    qint64 size = -1;
    QDateTime modified;
  } e;
  QStringList subfolders;
  auto finish = [&] {
    QString path = QUrl(e.href).path(QUrl::FullyDecoded);
    const QString root = QString::fromUtf8(m_rootPath);
    if (!path.startsWith(root)) return;  // not under the store's folder
    path = path.mid(root.size());
    if (path.endsWith('/')) path.chop(1);
    if (path.isEmpty() || path == folder.chopped(folder.endsWith('/') ? 1 : 0)) return;  // itself
    if (e.collection) {
      subfolders << path + '/';
    } else if (validateObjectName(path).isOk()) {
      StoreObject o;
      o.name = path;
      o.size = e.size;
      o.modified = e.modified;
      out.append(o);
    }
  };
  while (!x.atEnd()) {
    const auto t = x.readNext();
    if (t == QXmlStreamReader::StartElement && x.namespaceUri() == QLatin1String("DAV:")) {
      const auto n = x.name();
      if (n == QLatin1String("response")) {
        e = Entry();
      } else if (n == QLatin1String("href")) {
        e.href = x.readElementText();
      } else if (n == QLatin1String("collection")) {
        e.collection = true;
      } else if (n == QLatin1String("getcontentlength")) {
        e.size = x.readElementText().toLongLong();
      } else if (n == QLatin1String("getlastmodified")) {
        e.modified = httpDate(x.readElementText());
      }
    } else if (t == QXmlStreamReader::EndElement && x.namespaceUri() == QLatin1String("DAV:") &&
               x.name() == QLatin1String("response")) {
      finish();
    }
  }
  if (x.hasError())
    return Status::corruption(r.what() + QStringLiteral(": bad PROPFIND answer: ") +
                              x.errorString());
  if (depth >= kMaxDepth) return Status::ok();
  for (const QString& sub : subfolders) HL_RETURN_IF_ERROR(listFolder(sub, depth + 1, out));
  return Status::ok();
}

Result<QList<StoreObject>> WebDavStore::list() {
  QList<StoreObject> out;
  HL_RETURN_IF_ERROR(listFolder(QString(), 0, out).withContext(QStringLiteral("webdav list")));
  return out;
}

Status WebDavStore::remove(const QString& name) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  CurlRequest r;
  r.method = "DELETE";
  r.url = urlFor(name);
  return perform(r).withContext(QStringLiteral("webdav remove ") + name);
}

Status WebDavStore::copy(const QString& from, const QString& to) {
  HL_RETURN_IF_ERROR(validateObjectName(from));
  HL_RETURN_IF_ERROR(validateObjectName(to));
  const QString ctx = QStringLiteral("webdav copy %1 to %2").arg(from, to);
  const QString temp = temporaryName(to);
  HL_RETURN_IF_ERROR(ensureFolders(to).withContext(ctx));
  CurlRequest r;
  r.method = "COPY";
  r.url = urlFor(from);
  r.headers << "Destination: " + urlFor(temp) << "Overwrite: T";
  Status st = performMakingFolders(r, to, [] { return true; });  // no body to rewind
  if (st.isOk()) st = moveInto(temp, to);
  return st.withContext(ctx);
}

}  // namespace hl
