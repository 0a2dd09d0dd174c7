#include "snapshot/sftp_store.h"

#include "snapshot/curl_library.h"

#include <QDir>
#include <QRegularExpression>
#include <QTemporaryFile>
#include <QUrl>

namespace hl {

namespace {

const char* keyTypeName(int type) {
  switch (type) {
    case CURLKHTYPE_RSA1:
      return "RSA1";
    case CURLKHTYPE_RSA:
      return "RSA";
    case CURLKHTYPE_DSS:
      return "DSA";
    case CURLKHTYPE_ECDSA:
      return "ECDSA";
    case CURLKHTYPE_ED25519:
      return "ED25519";
    default:
      return "unknown";
  }
}

struct HostKeyCheck {
  CurlRequest* request;
  QString knownHosts;
  QString host;  // "[host]:port" as known_hosts writes it, or "host" for port 22
  QString sshKeyscan;
};

// libcurl asks this for every connection once it has compared the server's key with the
// known-hosts file: only an exact match is let through.
int checkHostKey(CURL*, const curl_khkey*, const curl_khkey* found, curl_khmatch match,
                 void* user) {
  auto* check = static_cast<HostKeyCheck*>(user);
  if (match == CURLKHMATCH_OK) return CURLKHSTAT_FINE;
  QByteArray blob =
      found && found->key ? QByteArray(found->key, qsizetype(found->len)) : QByteArray();
  if (found && found->key && found->len == 0) blob = QByteArray::fromBase64(found->key);
  const QString key =
      QStringLiteral("%1 key %2")
          .arg(QLatin1String(keyTypeName(found ? found->keytype : 0)), sshFingerprint(blob));
  if (match == CURLKHMATCH_MISMATCH)
    check->request->detail =
        QStringLiteral(
            "the server's host key changed: it offered the %1, which is not the key "
            "recorded for %2 in %3. Refused: if the change is expected, replace that "
            "entry")
            .arg(key, check->host, check->knownHosts);
  else
    check->request->detail =
        QStringLiteral(
            "the server's host key is unknown: it offered the %1, and %3 has no key "
            "for %2. Refused: check the fingerprint with the server's administrator, "
            "then add it (%4 >> %3)")
            .arg(key, check->host, check->knownHosts, check->sshKeyscan);
  return CURLKHSTAT_REJECT;
}

// An argument of an SFTP quote command, quoted as libcurl reads it.
QByteArray quoted(const QByteArray& path) {
  QByteArray q = path;
  q.replace('\\', "\\\\").replace('"', "\\\"");
  return '"' + q + '"';
}

}  // namespace

SftpStore::SftpStore(const SnapshotSftpConfig& config, TransferOptions transfer)
    : m_session(transfer) {
  const QUrl url(config.url);
  m_user = url.userName(QUrl::FullyDecoded).toUtf8();
  m_password = url.password(QUrl::FullyDecoded).toUtf8();
  const int port = url.port(22);
  m_base = "sftp://" + QUrl::toAce(url.host()) + ':' + QByteArray::number(port);
  if (url.host().contains(':'))
    m_base = "sftp://[" + url.host().toUtf8() + "]:" + QByteArray::number(port);
  m_path = url.path(QUrl::FullyDecoded);
  while (m_path.endsWith('/')) m_path.chop(1);
  m_keyFile = QFile::encodeName(config.keyFile);
  m_keyPassphrase = config.keyPassphrase.toUtf8();
  m_knownHosts = config.knownHosts.isEmpty()
                     ? QDir::home().filePath(QStringLiteral(".ssh/known_hosts"))
                     : config.knownHosts;
  m_knownHostsPath = QFile::encodeName(m_knownHosts);
  m_hostEntry = port == 22 ? url.host() : QStringLiteral("[%1]:%2").arg(url.host()).arg(port);
  m_keyscan = QStringLiteral("ssh-keyscan -p %1 %2").arg(port).arg(url.host());
  m_shown = QStringLiteral("sftp %1@%2:%3%4")
                .arg(QString::fromUtf8(m_user), url.host())
                .arg(port)
                .arg(m_path.isEmpty() ? QStringLiteral("/") : m_path);
}

QString SftpStore::describe() const {
  return m_shown;
}

QByteArray SftpStore::pathFor(const QString& name) const {
  return (m_path + '/' + name).toUtf8();
}

QByteArray SftpStore::urlFor(const QString& name) const {
  return m_base + QUrl::toPercentEncoding(m_path + '/' + name, "/");
}

Status SftpStore::perform(CurlRequest& r) {
  HostKeyCheck check{&r, m_knownHosts, m_hostEntry, m_keyscan};
  const std::function<void(CURL*)> extra = std::move(r.configure);  // the operation's own
  r.configure = [&](CURL* c) {
    curl::setopt(c, CURLOPT_USERNAME, m_user.constData());
    if (!m_password.isEmpty()) curl::setopt(c, CURLOPT_PASSWORD, m_password.constData());
    long auth = CURLSSH_AUTH_PASSWORD | CURLSSH_AUTH_KEYBOARD;
    if (!m_keyFile.isEmpty()) {
      auth |= CURLSSH_AUTH_PUBLICKEY;
      curl::setopt(c, CURLOPT_SSH_PRIVATE_KEYFILE, m_keyFile.constData());
      if (!m_keyPassphrase.isEmpty())
        curl::setopt(c, CURLOPT_KEYPASSWD, m_keyPassphrase.constData());
    }
    curl::setopt(c, CURLOPT_SSH_AUTH_TYPES, auth);
    // Always set, even when the file does not exist: then every key is unknown and refused.
    curl::setopt(c, CURLOPT_SSH_KNOWNHOSTS, m_knownHostsPath.constData());
    curl::setopt(c, CURLOPT_SSH_KEYFUNCTION, checkHostKey);
    curl::setopt(c, CURLOPT_SSH_KEYDATA, &check);
    curl::setopt(c, CURLOPT_FTP_CREATE_MISSING_DIRS, long(CURLFTP_CREATE_DIR_RETRY));
    curl::setopt(c, CURLOPT_NEW_FILE_PERMS, 0640L);
    curl::setopt(c, CURLOPT_NEW_DIRECTORY_PERMS, 0750L);
    if (extra) extra(c);
  };
  // SFTP has no answer to interpret beyond libcurl's result.
  return m_session.run(r, [](const CurlRequest&) { return Status::ok(); });
}

Status SftpStore::quote(const QList<QByteArray>& commands, bool retry) {
  struct ListDeleter {
    void operator()(curl_slist* l) const { curl::api().slistFreeAll(l); }
  };
  std::unique_ptr<curl_slist, ListDeleter> list;
  for (const QByteArray& c : commands) {
    curl_slist* next = curl::api().slistAppend(list.get(), c.constData());
    if (!next) return Status::internal(QStringLiteral("curl_slist_append failed"));
    (void)list.release();
    list.reset(next);
  }
  CurlRequest r;
  r.method = "QUOTE";
  r.url = urlFor(QString());
  r.noBody = true;
  r.retry = retry;
  r.configure = [&](CURL* c) { curl::setopt(c, CURLOPT_QUOTE, list.get()); };
  return perform(r);
}

Status SftpStore::stat(const QString& name, StoreObject* out) {
  CurlRequest r;
  r.method = "STAT";
  r.url = urlFor(name);
  r.noBody = true;
  HL_RETURN_IF_ERROR(perform(r));
  if (out && r.fileTime >= 0) out->modified = QDateTime::fromSecsSinceEpoch(r.fileTime, Qt::UTC);
  return Status::ok();
}

Status SftpStore::put(const QString& name, QIODevice& source, qint64 size,
                      const QList<QPair<QString, QString>>&, const TransferProgress& progress) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  const QString ctx = QStringLiteral("sftp put ") + name;
  if (size < 0) return Status::invalidArgument(ctx + QStringLiteral(": unknown size"));
  const QString temp = temporaryName(name);
  CurlRequest r = CurlRequest::upload(urlFor(temp), source, size, progress);
  Status st = perform(r);
  if (st.isOk() && size == 0 && progress && !progress(0, 0))
    st = Status::cancelled(ctx + QStringLiteral(": cancelled"));
  if (st.isOk()) {
    // Onto a free name: one rename. Onto an existing object: aside, in, delete the old one.
    st = quote({"rename " + quoted(pathFor(temp)) + ' ' + quoted(pathFor(name))});
    if (!st.isOk() && stat(name, nullptr).isOk()) {
      const QString aside = temporaryName(name);
      st = quote({"rename " + quoted(pathFor(name)) + ' ' + quoted(pathFor(aside)),
                  "rename " + quoted(pathFor(temp)) + ' ' + quoted(pathFor(name)),
                  "rm " + quoted(pathFor(aside))});
    }
  }
  if (!st.isOk()) {
    (void)quote({"*rm " + quoted(pathFor(temp))},
                /*retry=*/false);  // best effort; retention removes leftovers
    return st.withContext(ctx);
  }
  return Status::ok();
}

Status SftpStore::get(const QString& name, QIODevice& sink, const TransferProgress& progress) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  CurlRequest r;
  r.url = urlFor(name);
  r.sink = &sink;
  r.progress = &progress;
  const Status st = perform(r);
  if (!st.isOk() && st.code() != Status::Code::kNotFound && r.moved == 0) {
    // Opening a directory "works" and then reading fails: say NotFound for what is no file.
    auto here = entries(name.left(name.lastIndexOf('/') + 1));
    const bool isFile = here.ok() && std::any_of(here->begin(), here->end(), [&](const Entry& e) {
                          return e.name == name && e.type == '-';
                        });
    if (here.ok() && !isFile)
      return Status::notFound(QStringLiteral("sftp get %1: no such file").arg(name));
  }
  return st.withContext(QStringLiteral("sftp get ") + name);
}

Result<QList<SftpStore::Entry>> SftpStore::entries(const QString& dir) {
  CurlRequest r;
  r.method = "LIST";
  r.url = urlFor(dir);  // ends in '/': a listing
  const Status st = perform(r);
  if (st.code() == Status::Code::kNotFound ||
      (!st.isOk() && st.message().contains(QLatin1String("No such file"))))
    return QList<Entry>();  // nothing stored yet
  HL_RETURN_IF_ERROR(st);
  if (r.response.size() >= (1 << 20))
    return Status::ioError(r.what() + QStringLiteral(": listing longer than 1 MiB"));
  // OpenSSH's long format: "-rw-r--r--    1 user group   1234 Nov 30 18:21 name".
  static const QRegularExpression line(
      QStringLiteral(R"(^([dl-])\S*\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+\S+\s(.+)$)"));
  QList<Entry> out;
  for (const QByteArray& raw : r.response.split('\n')) {
    const auto m = line.match(QString::fromUtf8(raw).trimmed());
    if (!m.hasMatch()) continue;
    const QString entry = m.captured(3);
    if (entry == QLatin1String(".") || entry == QLatin1String("..")) continue;
    out.append({dir + entry, m.captured(1).at(0).toLatin1(), m.captured(2).toLongLong()});
  }
  return out;
}

Status SftpStore::listDirectory(const QString& dir, int depth, QList<StoreObject>& out) {
  auto all = entries(dir);
  HL_RETURN_IF_ERROR(all.status());
  QStringList subdirs;
  for (const Entry& e : *all) {
    if (e.type == 'd') {
      subdirs << e.name + '/';
    } else if (e.type == '-' && validateObjectName(e.name).isOk()) {
      StoreObject o;
      o.name = e.name;
      o.size = e.size;
      if (Status s = stat(e.name, &o); !s.isOk() && s.code() != Status::Code::kNotFound) return s;
      out.append(o);
    }
  }
  if (depth >= kMaxDepth) return Status::ok();
  for (const QString& sub : subdirs) HL_RETURN_IF_ERROR(listDirectory(sub, depth + 1, out));
  return Status::ok();
}

Result<QList<StoreObject>> SftpStore::list() {
  QList<StoreObject> out;
  HL_RETURN_IF_ERROR(listDirectory(QString(), 0, out).withContext(QStringLiteral("sftp list")));
  return out;
}

Status SftpStore::remove(const QString& name) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  const QString ctx = QStringLiteral("sftp remove ") + name;
  HL_RETURN_IF_ERROR(stat(name, nullptr).withContext(ctx));
  return quote({"rm " + quoted(pathFor(name))}).withContext(ctx);
}

Status SftpStore::copy(const QString& from, const QString& to) {
  HL_RETURN_IF_ERROR(validateObjectName(from));
  HL_RETURN_IF_ERROR(validateObjectName(to));
  const QString ctx = QStringLiteral("sftp copy %1 to %2").arg(from, to);
  QTemporaryFile local(QDir::temp().filePath(QStringLiteral("harmonylite-sftp-copy-XXXXXX")));
  if (!local.open())
    return Status::ioError(ctx + QStringLiteral(": temporary file: ") + local.errorString());
  HL_RETURN_IF_ERROR(get(from, local, {}).withContext(ctx));
  if (!local.flush() || !local.seek(0))
    return Status::ioError(ctx + QStringLiteral(": temporary file: ") + local.errorString());
  return put(to, local, local.size(), {}, {}).withContext(ctx);
}

}  // namespace hl
