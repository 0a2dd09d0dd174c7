#include "snapshot/local_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QByteArray>
#include <QDateTime>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>

#include <cerrno>
#include <cstring>

namespace hl {

namespace {

// Bytes moved per read/write: large enough for a USB disk's throughput, small enough that
// a 200 MB object never sits in memory.
constexpr qint64 kChunkSize = 1 << 20;
// Temp files start with this; list() skips them and object names may not use it (a stale-temp
// sweep would otherwise delete a real object).
const QString kTempPrefix = QStringLiteral(".tmp-");
// A temp file untouched this long belongs to a killed process: a live put writes to its temp
// file at least once a chunk, so it is never that old.
constexpr qint64 kStaleTempSeconds = 3600;
// How long a sequential source (a pipe, a socket) may stay silent before the put fails.
constexpr int kLocalSourceWaitMs = 30000;

QByteArray enc(const QString& path) {
  return QFile::encodeName(path);
}

// strerror(), spelled out in lower case for the two "disk is full" errors so that logs and
// the dashboard say it the same way on every system.
QString errnoText(int err) {
  if (err == ENOSPC) return QStringLiteral("no space left on device");
  if (err == EDQUOT) return QStringLiteral("disk quota exceeded");
  return QString::fromLocal8Bit(strerror(err));
}

Status ioError(const QString& what, const QString& path, int err) {
  return Status::ioError(QStringLiteral("%1 %2: %3").arg(what, path, errnoText(err)));
}

// validateObjectName, plus the temp-file prefix that is ours (see kTempPrefix).
Status checkName(const QString& name) {
  HL_RETURN_IF_ERROR(validateObjectName(name));
  for (const QString& part : name.split('/')) {
    if (part.startsWith(kTempPrefix))
      return Status::invalidArgument(
          QStringLiteral("object name \"%1\": a part starting with \"%2\" is reserved for "
                         "temporary files of the local store")
              .arg(name, kTempPrefix));
  }
  return Status::ok();
}

// Makes a directory entry (rename, unlink, mkdir) durable; best effort, as in
// ReplicationState::writeSeqMap: some file systems (FAT, some NAS mounts) refuse to fsync a
// directory, and the data itself is already synced.
void syncDir(const QString& dir) {
  const int fd = ::open(enc(dir).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// write() all of `data`, across partial writes and signals.
bool writeAll(int fd, const char* data, qint64 size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size_t(size));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= n;
  }
  return true;
}

// A temp file being written; unlinked when destroyed unless committed, so that every early
// return of a failed or cancelled put leaves nothing behind.
class TempFile {
 public:
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    closeFd();
    if (!m_path.isEmpty() && !m_committed) ::unlink(enc(m_path).constData());
  }

  // Creates a fresh temp file in `dir` for `baseName` (O_EXCL: two writers never share one).
  Status create(const QString& dir, const QString& baseName) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      const QString path = freshName(dir, baseName);
      m_fd = ::open(enc(path).constData(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (m_fd >= 0) {
        m_path = path;
        return Status::ok();
      }
      if (errno != EEXIST) return ioError(QStringLiteral("create"), path, errno);
    }
    return Status::ioError(QStringLiteral("create a temporary file in %1: names taken").arg(dir));
  }

  // Hard-links `src` to a fresh temp name in `dir`; false with errno set when link() fails
  // (the name is then not ours and is left alone).
  bool link(const QString& src, const QString& dir, const QString& baseName) {
    const QString path = freshName(dir, baseName);
    if (::link(enc(src).constData(), enc(path).constData()) != 0) return false;
    m_path = path;
    return true;
  }

  int fd() const { return m_fd; }
  const QString& path() const { return m_path; }

  // fsync + close; a full disk on a network file system may only show here.
  Status syncAndClose() {
    if (::fsync(m_fd) != 0) return ioError(QStringLiteral("fsync"), m_path, errno);
    const int fd = m_fd;
    m_fd = -1;
    if (::close(fd) != 0) return ioError(QStringLiteral("close"), m_path, errno);
    return Status::ok();
  }

  // Renames over `target` and makes the rename durable; from here on the file is the object.
  Status commitAs(const QString& target) {
    if (::rename(enc(m_path).constData(), enc(target).constData()) != 0)
      return ioError(QStringLiteral("rename %1 to").arg(m_path), target, errno);
    m_committed = true;
    syncDir(QFileInfo(target).absolutePath());
    return Status::ok();
  }

 private:
  static QString freshName(const QString& dir, const QString& baseName) {
    return QDir(dir).filePath(
        QStringLiteral("%1%2.%3.%4")
            .arg(kTempPrefix, baseName, QString::number(::getpid()),
                 QString::number(QRandomGenerator::global()->generate64(), 36)));
  }

  void closeFd() {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
  }

  int m_fd = -1;
  QString m_path;
  bool m_committed = false;
};

// Removes temp files in `dir` left by killed processes (see kStaleTempSeconds). Errors are
// ignored: a file that cannot be removed now is tried again by the next put.
void removeStaleTemps(const QString& dir) {
  const QDateTime cutoff = QDateTime::currentDateTimeUtc().addSecs(-kStaleTempSeconds);
  const QFileInfoList entries = QDir(dir).entryInfoList({kTempPrefix + QLatin1Char('*')},
                                                        QDir::Files | QDir::Hidden | QDir::System);
  for (const QFileInfo& fi : entries) {
    if (fi.lastModified().toUTC() < cutoff) ::unlink(enc(fi.absoluteFilePath()).constData());
  }
}

// Creates the directories of `name` below the root (and the root itself), syncing each new
// entry's parent so that an object renamed into a new directory survives a power cut.
Status makeParentDirs(const QString& root, const QString& name) {
  if (!QFileInfo(root).isDir() && !QDir().mkpath(root))
    return Status::ioError(QStringLiteral("cannot create the store directory %1").arg(root));
  QString dir = root;
  const QStringList parts = name.split('/');
  for (qsizetype i = 0; i + 1 < parts.size(); ++i) {
    const QString next = QDir(dir).filePath(parts[i]);
    if (::mkdir(enc(next).constData(), 0755) == 0) {
      syncDir(dir);
    } else if (errno != EEXIST || !QFileInfo(next).isDir()) {
      return ioError(QStringLiteral("create directory"), next, errno == EEXIST ? ENOTDIR : errno);
    }
    dir = next;
  }
  return Status::ok();
}

}  // namespace

LocalStore::LocalStore(QString root) : m_root(std::move(root)) {}

QString LocalStore::describe() const {
  return QStringLiteral("local directory ") + m_root;
}

Status LocalStore::put(const QString& name, QIODevice& source, qint64 size,
                       const QList<QPair<QString, QString>>& /*headers: files have none*/,
                       const TransferProgress& progress) {
  HL_RETURN_IF_ERROR(checkName(name));
  if (size < 0)
    return Status::invalidArgument(QStringLiteral("put %1: size %2").arg(name).arg(size));
  const QString target = QDir(m_root).filePath(name);
  const QString dir = QFileInfo(target).absolutePath();
  const QString baseName = QFileInfo(target).fileName();
  if (QFileInfo(target).isDir())
    return Status::ioError(QStringLiteral("put %1: %2 is a directory").arg(name, target));

  HL_RETURN_IF_ERROR(makeParentDirs(m_root, name));
  removeStaleTemps(dir);

  TempFile tmp;
  HL_RETURN_IF_ERROR(tmp.create(dir, baseName));

  QByteArray buf(int(qMin(kChunkSize, qMax<qint64>(size, 1))), Qt::Uninitialized);
  qint64 done = 0;
  while (done < size) {
    const qint64 n = source.read(buf.data(), qMin<qint64>(buf.size(), size - done));
    if (n < 0)
      return Status::ioError(
          QStringLiteral("put %1: read source: %2").arg(name, source.errorString()));
    if (n == 0) {
      // A sequential source (pipe, socket) may simply have nothing yet; a file or buffer
      // that returns nothing has ended before `size` bytes.
      if (!source.isSequential() || !source.waitForReadyRead(kLocalSourceWaitMs))
        return Status::ioError(QStringLiteral("put %1: source ended after %2 of %3 bytes")
                                   .arg(name)
                                   .arg(done)
                                   .arg(size));
      continue;
    }
    if (!writeAll(tmp.fd(), buf.constData(), n))
      return ioError(QStringLiteral("put %1: write").arg(name), tmp.path(), errno);
    done += n;
    if (progress && !progress(done, size))
      return Status::cancelled(
          QStringLiteral("put %1: cancelled after %2 of %3 bytes").arg(name).arg(done).arg(size));
  }
  HL_RETURN_IF_ERROR(tmp.syncAndClose().withContext(QStringLiteral("put ") + name));
  return tmp.commitAs(target).withContext(QStringLiteral("put ") + name);
}

Status LocalStore::get(const QString& name, QIODevice& sink, const TransferProgress& progress) {
  HL_RETURN_IF_ERROR(checkName(name));
  const QString path = QDir(m_root).filePath(name);
  const int fd = ::open(enc(path).constData(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return Status::notFound(QStringLiteral("get %1: no object %2").arg(name, path));
    return ioError(QStringLiteral("get %1: open").arg(name), path, errno);
  }
  // The fd pins this version of the object: a put that replaces it meanwhile renames a new
  // file over the name and this read still sees the old bytes, whole.
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ioError(QStringLiteral("get %1: stat").arg(name), path, errno);
  if (!S_ISREG(st.st_mode))
    return Status::notFound(QStringLiteral("get %1: %2 is not a file").arg(name, path));
  const qint64 total = qint64(st.st_size);

  QByteArray buf(int(kChunkSize), Qt::Uninitialized);
  qint64 done = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), size_t(buf.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError(QStringLiteral("get %1: read").arg(name), path, errno);
    }
    if (n == 0) break;
    if (sink.write(buf.constData(), n) != n)
      return Status::ioError(
          QStringLiteral("get %1: write to the sink: %2").arg(name, sink.errorString()));
    done += n;
    if (progress && !progress(done, total))
      return Status::cancelled(
          QStringLiteral("get %1: cancelled after %2 of %3 bytes").arg(name).arg(done).arg(total));
  }
  return Status::ok();
}

Result<QList<StoreObject>> LocalStore::list() {
  QList<StoreObject> out;
  const QFileInfo rootInfo(m_root);
  if (!rootInfo.exists()) return out;  // created by the first put
  if (!rootInfo.isDir())
    return Status::ioError(QStringLiteral("list: %1 is not a directory").arg(m_root));
  const QDir root(m_root);
  QDirIterator it(m_root, QDir::Files | QDir::Hidden | QDir::System, QDirIterator::Subdirectories);
  while (it.hasNext()) {
    it.next();
    const QFileInfo fi = it.fileInfo();
    if (fi.fileName().startsWith(kTempPrefix)) continue;
    const QString name = root.relativeFilePath(fi.absoluteFilePath());
    // Files a person put there under a name no store operation could address ("my copy.db",
    // lost+found) are not objects of this store.
    if (!checkName(name).isOk()) continue;
    StoreObject o;
    o.name = name;
    o.size = fi.size();
    o.modified = fi.lastModified().toUTC();
    out.append(std::move(o));
  }
  return out;
}

Status LocalStore::remove(const QString& name) {
  HL_RETURN_IF_ERROR(checkName(name));
  const QString path = QDir(m_root).filePath(name);
  struct stat st {};
  if (::lstat(enc(path).constData(), &st) != 0 || S_ISDIR(st.st_mode))
    return Status::notFound(QStringLiteral("remove %1: no object %2").arg(name, path));
  if (::unlink(enc(path).constData()) != 0) {
    if (errno == ENOENT) return Status::notFound(QStringLiteral("remove %1: no object").arg(name));
    return ioError(QStringLiteral("remove %1: unlink").arg(name), path, errno);
  }
  // Directories the object leaves empty go too, up to (not including) the root, so that a
  // retention sweep does not leave a tree of empty dated folders. rmdir() only removes an
  // empty directory: a sibling object or a concurrent put's temp file stops the walk.
  QString dir = QDir::cleanPath(QFileInfo(path).absolutePath());
  const QString rootAbs = QDir::cleanPath(QFileInfo(m_root).absoluteFilePath());
  while (dir.size() > rootAbs.size() && dir.startsWith(rootAbs + QLatin1Char('/'))) {
    if (::rmdir(enc(dir).constData()) != 0) break;
    dir = QFileInfo(dir).absolutePath();
  }
  syncDir(dir);
  return Status::ok();
}

Status LocalStore::copy(const QString& from, const QString& to) {
  HL_RETURN_IF_ERROR(checkName(from));
  HL_RETURN_IF_ERROR(checkName(to));
  const QString src = QDir(m_root).filePath(from);
  const QString target = QDir(m_root).filePath(to);
  struct stat st {};
  if (::stat(enc(src).constData(), &st) != 0 || !S_ISREG(st.st_mode))
    return Status::notFound(QStringLiteral("copy %1 to %2: no object %3").arg(from, to, src));
  if (from == to) return Status::ok();
  if (QFileInfo(target).isDir())
    return Status::ioError(QStringLiteral("copy to %1: %2 is a directory").arg(to, target));
  HL_RETURN_IF_ERROR(makeParentDirs(m_root, to));
  const QString dir = QFileInfo(target).absolutePath();
  removeStaleTemps(dir);

  // A hard link shares the bytes without copying them. That is safe because no store
  // operation writes a file in place: put always renames a new file over the name, so
  // replacing `from` later leaves `to` with the bytes it had. link() to a temp name and then
  // rename(), because link() will not replace an existing `to`.
  {
    TempFile tmp;
    if (tmp.link(src, dir, QFileInfo(target).fileName()))
      return tmp.commitAs(target).withContext(QStringLiteral("copy %1 to %2").arg(from, to));
    if (errno == ENOENT)
      return Status::notFound(QStringLiteral("copy %1 to %2: no object %3").arg(from, to, src));
    // Anything else (EXDEV across mounts, EPERM on FAT, EMLINK, ENOTSUP on some NAS mounts):
    // copy the bytes instead; a real disk problem shows up again in the copy.
  }
  QFile in(src);
  if (!in.open(QIODevice::ReadOnly))
    return Status::ioError(
        QStringLiteral("copy %1 to %2: open %3: %4").arg(from, to, src, in.errorString()));
  return put(to, in, in.size(), {}, {}).withContext(QStringLiteral("copy %1 to %2").arg(from, to));
}

}  // namespace hl
