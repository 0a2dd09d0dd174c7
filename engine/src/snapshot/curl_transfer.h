// CurlSession: the libcurl plumbing the remote snapshot stores share (S3, WebDAV, SFTP;
// docs/snapshots.md#remote-stores). libcurl speaks every protocol; this file only streams
// bodies from/to QIODevice in bounded chunks, reports progress and cancels, applies the
// timeouts and TLS policy, maps libcurl's failures onto Status, and retries.
//
// - One easy handle per session, reset (not re-created) between requests, so an HTTP
//   keep-alive connection, a TLS session or an SSH login is reused by the next request.
// - Retries: a request that fails with Unavailable or Timeout (connection refused or lost,
//   stalled transfer, HTTP 5xx/429, as decided by the store's interpreter) is tried again up to
//   TransferOptions::retries more times, after 0.5 s, 1 s, 2 s ... (capped at 8 s). A download
//   resumes where it broke off (HTTP Range / SFTP offset; libcurl refuses a server that ignores
//   the range instead of appending the object twice). An upload starts again from its first
//   byte, which needs a seekable source; from a sequential one it is not retried.
// - TLS: peer and host name verified unless insecureSkipVerify (the config must spell it out).
// - Secrets: given to libcurl as options only; never in a message or a log line.
//
// Thread: a session belongs to the thread of the store that owns it (snapshot_store.h).
#pragma once

#include <QByteArray>
#include <QIODevice>
#include <QList>
#include <QPair>
#include <QString>

#include <functional>

#include "harmonylite/config.h"
#include "harmonylite/status.h"
#include "snapshot/snapshot_store.h"

using CURL = void;

namespace hl {

struct TransferOptions {
  qint64 connectTimeoutMs = 10000;  // [snapshot] connect_timeout
  qint64 idleTimeoutMs = 60000;     // [snapshot] idle_timeout: no byte moved for this long
  int retries = 3;                  // [snapshot] retries: further attempts
  qint64 firstBackoffMs = 500;      // doubled after each attempt, at most 8 s
  bool insecureSkipVerify = false;  // TLS: accept any certificate and host name

  // [snapshot] connect_timeout, idle_timeout, retries.
  static TransferOptions of(const SnapshotConfig& c) {
    TransferOptions o;
    o.connectTimeoutMs = c.connectTimeoutMs;
    o.idleTimeoutMs = c.idleTimeoutMs;
    o.retries = c.retries;
    return o;
  }
  TransferOptions withInsecureTls(bool skipVerify) const {
    TransferOptions o = *this;
    o.insecureSkipVerify = skipVerify;
    return o;
  }
};

struct CurlRequest {
  QByteArray method = "GET";  // HTTP method ("GET" also for an SFTP download)
  QByteArray url;             // percent-encoded; the part before '?' appears in messages
  QList<QByteArray> headers;  // "Name: value"
  // Upload body: `source` (exactly `uploadSize` bytes from its current position), or `body`
  // (sent with hasBody; an empty PUT/POST/MKCOL sends no body at all).
  QIODevice* source = nullptr;
  qint64 uploadSize = -1;
  QByteArray body;
  bool hasBody = false;
  bool noBody = false;  // HEAD (HTTP) / stat only (SFTP)
  bool retry = true;    // false: one attempt (a best-effort clean-up after a failure)
  // Download: a 2xx body goes into `sink` when set, else into `response` (at most 1 MiB).
  QIODevice* sink = nullptr;
  // Progress of this request's bytes, offset by `progressBase`, of `progressTotal` (-1 =
  // taken from the response's Content-Length).
  const TransferProgress* progress = nullptr;
  qint64 progressBase = 0;
  qint64 progressTotal = -1;
  // Store-specific options (authentication, SFTP quote commands ...), applied last.
  std::function<void(CURL*)> configure;

  // Filled by CurlSession:
  long httpStatus = 0;  // HTTP status; 0 for SFTP
  QByteArray response;  // non-sink body (error documents, XML answers, listings)
  QList<QPair<QByteArray, QByteArray>> responseHeaders;  // names lower-cased
  qint64 moved = 0;        // body bytes moved by this request (all attempts of a download)
  qint64 fileTime = -1;    // remote modification time (s since epoch) where libcurl got one
  bool cancelled = false;  // the progress callback said stop
  QString localError;      // the source or sink failed
  QString detail;          // extra words for the message (set by a store's callbacks)

  // A PUT of `size` bytes from `source` to `url`, its progress reported to `progress` as bytes
  // `offset`.. of `total` (a multipart part; -1 = `size`).
  static CurlRequest upload(QByteArray url, QIODevice& source, qint64 size,
                            const TransferProgress& progress, qint64 offset = 0, qint64 total = -1);

  QByteArray header(const QByteArray& lowerName) const;
  // "PUT https://host/bucket/key": for messages; never the query (it may carry a secret).
  QString what() const;
};

class CurlSession {
 public:
  // Turns a completed transfer into the store's answer (HTTP status, error document ...).
  // Called only when libcurl itself succeeded.
  using Interpret = std::function<Status(const CurlRequest&)>;

  explicit CurlSession(TransferOptions options);
  ~CurlSession();
  CurlSession(const CurlSession&) = delete;
  CurlSession& operator=(const CurlSession&) = delete;

  // Performs `r`, retrying as described above. `interpret` decides what a finished transfer
  // means; a Status it returns with code Unavailable or Timeout is retried.
  Status run(CurlRequest& r, const Interpret& interpret);

  const TransferOptions& options() const { return m_options; }

 private:
  Status performOnce(CurlRequest& r, qint64 resumeFrom);

  TransferOptions m_options;
  CURL* m_curl = nullptr;
  QString m_unavailable;  // why there is no handle (libcurl not loaded: curl_library.h)
};

// SHA-256 of `blob`, as OpenSSH prints key fingerprints: "SHA256:<base64 without padding>".
QString sshFingerprint(const QByteArray& blob);

}  // namespace hl
