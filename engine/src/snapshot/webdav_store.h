// WebDavStore: a snapshot store on a WebDAV server (docs/snapshots.md#webdav). The URL is Go's:
// https://host/base?dir=D&login=U&secret=P; object "a/b.db" is <base>/<D>/a/b.db. libcurl does
// HTTP, TLS and Basic authentication (curl_transfer.h); this class only chooses the requests:
// - put: PUT to a temporary name in the same folder (".<name>.part-<random>"), then MOVE with
//   Overwrite: T onto the name, so a reader never sees half a file. Missing folders are made
//   with MKCOL (once per folder and store; again if a PUT says 409 Conflict).
// - copy: server-side COPY to a temporary name, then MOVE (the bytes are not sent again).
// - list: PROPFIND Depth 1 on the folder and on each sub-folder (at most kMaxDepth deep).
// - get: GET; remove: DELETE.
// Temporary files left by a node killed mid-upload are ordinary objects whose last part starts
// with '.' and contains ".part-"; the snapshot service removes them once an hour old.
// Thread: see snapshot_store.h.
#pragma once

#include <QSet>

#include "harmonylite/config.h"
#include "snapshot/curl_transfer.h"
#include "snapshot/snapshot_store.h"

namespace hl {

class WebDavStore final : public SnapshotStore {
 public:
  static constexpr int kMaxDepth = 4;

  explicit WebDavStore(SnapshotWebDavConfig config, TransferOptions transfer = {});

  QString describe() const override;
  Status put(const QString& name, QIODevice& source, qint64 size,
             const QList<QPair<QString, QString>>& headers,
             const TransferProgress& progress) override;
  Status get(const QString& name, QIODevice& sink, const TransferProgress& progress) override;
  Result<QList<StoreObject>> list() override;
  Status remove(const QString& name) override;
  Status copy(const QString& from, const QString& to) override;

  // What a WebDAV answer means: 2xx success, 404 NotFound, 5xx (but 501/507) and 429
  // Unavailable (retried), anything else IoError; messages carry the status and its reason.
  static Status interpret(const CurlRequest& r);

 private:
  QByteArray urlFor(const QString& name) const;  // name "" = the store's folder (ends in '/')
  Status perform(CurlRequest& r);
  Status makeFolders(const QString& name);    // MKCOL the missing folders above `name`
  Status ensureFolders(const QString& name);  // makeFolders once per folder per store
  // `r`, a request that makes `name` or a temporary beside it. On 409 Conflict a folder above
  // `name` went away since ensureFolders() saw it (someone removed it): the folders are made
  // again and `r` sent once more, if `rewind` takes its body back to the start.
  Status performMakingFolders(CurlRequest& r, const QString& name,
                              const std::function<bool()>& rewind);
  Status moveInto(const QString& from, const QString& to);
  Status listFolder(const QString& folder, int depth, QList<StoreObject>& out);

  QByteArray m_root;      // scheme://host[:port]/base/dir/ (percent-encoded)
  QByteArray m_rootPath;  // its path part, decoded, to strip from PROPFIND hrefs
  QByteArray m_login;
  QByteArray m_secret;
  QString m_shown;          // for describe(): no secret
  QSet<QString> m_folders;  // folders known to exist ("" = the store's own)
  CurlSession m_session;
};

}  // namespace hl
