// SftpStore: a snapshot store on an SFTP server (docs/snapshots.md#sftp). The URL is Go's,
// sftp://user[:password]@host[:port]/path; object "a/b.db" is the file <path>/a/b.db. libcurl
// (over libssh2) does SSH, authentication by password or key file, and SFTP; this class only
// chooses the operations:
// - host key: always checked against the known-hosts file ([snapshot.sftp] known_hosts, default
//   ~/.ssh/known_hosts). An unknown or changed key is refused; the message names the key type
//   and its SHA256 fingerprint as `ssh-keygen -lf` prints it. Never accepted silently.
// - put: upload to a temporary name in the same directory (missing directories made), then
//   rename into place. SFTP v3 renames only onto a free name, so an existing object is first
//   renamed aside, the new one renamed in, the old one deleted (one round trip of three
//   commands; a reader in between sees no object for that instant).
// - copy: download to a temporary local file and upload it (SFTP v3 has no server-side copy).
// - list: the long listing of the directory and its sub-directories (at most kMaxDepth deep);
//   each file's size and modification time from a stat (exact, in UTC).
// - get: download; remove: stat, then rm.
// Thread: see snapshot_store.h.
#pragma once

#include "harmonylite/config.h"
#include "snapshot/curl_transfer.h"
#include "snapshot/snapshot_store.h"

namespace hl {

class SftpStore final : public SnapshotStore {
 public:
  static constexpr int kMaxDepth = 4;

  explicit SftpStore(const SnapshotSftpConfig& config, TransferOptions transfer = {});

  QString describe() const override;
  Status put(const QString& name, QIODevice& source, qint64 size,
             const QList<QPair<QString, QString>>& headers,
             const TransferProgress& progress) override;
  Status get(const QString& name, QIODevice& sink, const TransferProgress& progress) override;
  Result<QList<StoreObject>> list() override;
  Status remove(const QString& name) override;
  Status copy(const QString& from, const QString& to) override;

  // The known-hosts file in use (the configured one, or ~/.ssh/known_hosts).
  QString knownHostsFile() const { return m_knownHosts; }

 private:
  QByteArray urlFor(const QString& name) const;   // "" = the store's directory (ends in '/')
  QByteArray pathFor(const QString& name) const;  // absolute path on the server, for commands
  Status perform(CurlRequest& r);
  // SFTP commands ("rename a b", "rm a"; '*' first: failure ignored), in one round trip.
  Status quote(const QList<QByteArray>& commands, bool retry = true);
  Status stat(const QString& name, StoreObject* out);
  struct Entry {
    QString name;  // relative to the store's directory
    char type;     // 'd' directory, '-' file, 'l' link
    qint64 size;
  };
  Result<QList<Entry>> entries(const QString& dir);  // one long listing
  Status listDirectory(const QString& dir, int depth, QList<StoreObject>& out);

  QByteArray m_base;  // sftp://host:port (no user info)
  QString m_path;     // absolute directory on the server, without trailing '/'
  QByteArray m_user;
  QByteArray m_password;
  QByteArray m_keyFile;
  QByteArray m_keyPassphrase;
  QString m_knownHosts;
  QByteArray m_knownHostsPath;  // m_knownHosts, encoded for libcurl
  QString m_hostEntry;          // how known_hosts names the server: "host", or "[host]:port" off 22
  QString m_keyscan;            // the ssh-keyscan command that reads its key, for messages
  QString m_shown;
  CurlSession m_session;
};

}  // namespace hl
