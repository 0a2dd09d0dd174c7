// S3Store: a snapshot store in an S3 bucket (AWS S3 or any S3-compatible server;
// docs/snapshots.md#stores). Object "a/b.db" is the key "<path>/a/b.db" in `bucket`, addressed
// path-style (http(s)://endpoint/bucket/key) or virtual-host style (bucket.endpoint/key; the
// default for *.amazonaws.com). libcurl does the protocol: AWS signature v4 (CURLOPT_AWS_SIGV4),
// TLS, timeouts, retries (curl_transfer.h). Objects up to kMultipartThreshold
// (1 MiB) go up in one streamed PUT; larger ones as a multipart upload of kPartSize (16 MiB)
// parts, each streamed from the source, aborted on cancel or failure. S3 makes an object visible
// only once its upload is complete, so an interrupted put leaves the previous object whole. Errors
// carry the S3 error code and HTTP status; connection failures, timeouts and 5xx are retried,
// a multipart upload's parts one by one. Secrets are never logged nor put in messages. Thread: see
// snapshot_store.h.
#pragma once

#include "harmonylite/config.h"
#include "snapshot/curl_transfer.h"
#include "snapshot/snapshot_store.h"

namespace hl {

class S3Store final : public SnapshotStore {
 public:
  static constexpr qint64 kPartSize = 16LL << 20;
  // Larger objects go up as a multipart upload (even a single part): the object is written
  // only by CompleteMultipartUpload, once every byte is on the server. S3 would keep the
  // previous object whole through a cut-off single PUT too, but S3-compatible servers need not
  // (s3rver truncates it), so single PUTs are kept for small objects only.
  static constexpr qint64 kMultipartThreshold = 1LL << 20;

  explicit S3Store(SnapshotS3Config config, TransferOptions transfer = {});

  QString describe() const override;
  Status put(const QString& name, QIODevice& source, qint64 size,
             const QList<QPair<QString, QString>>& headers,
             const TransferProgress& progress) override;
  Status get(const QString& name, QIODevice& sink, const TransferProgress& progress) override;
  Result<QList<StoreObject>> list() override;
  Status remove(const QString& name) override;
  Status copy(const QString& from, const QString& to) override;

  // What an S3 answer means: 2xx without an <Error> document is success; 404 NotFound;
  // 5xx, 429, SlowDown, RequestTimeout and InternalError Unavailable (retried); anything else
  // an IoError. Messages carry the HTTP status, S3's error code and message, and the bucket's
  // region when S3 names it (x-amz-bucket-region).
  static Status interpret(const CurlRequest& r);

  // The region an AWS endpoint names ("s3.eu-west-3.amazonaws.com", "s3-eu-west-3...",
  // "s3.dualstack.eu-west-3..."); "" for any other endpoint.
  static QString regionOfEndpoint(const QString& endpoint);
  // The region requests are signed for, and whether the bucket is in the host name.
  QString region() const { return m_config.region; }
  bool virtualHostAddressing() const { return m_virtualHost; }

 private:
  QString key(const QString& name) const;
  QByteArray urlFor(const QString& key, const QByteArray& query = {}) const;
  Status perform(CurlRequest& r);
  Status putMultipart(const QString& name, QIODevice& source, qint64 size,
                      const TransferProgress& progress);

  SnapshotS3Config m_config;
  QString m_prefix;  // path without leading/trailing '/'; "" = bucket root
  CurlSession m_session;
  bool m_virtualHost = false;  // bucket.endpoint/key instead of endpoint/bucket/key  // path
                               // without leading/trailing '/'; "" = bucket root
};

}  // namespace hl
