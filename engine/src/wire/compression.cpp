#include "wire/compression.h"

#include <zstd.h>

#include <algorithm>
#include <memory>

namespace hl {

namespace {

// Any level decodes the same (Go nodes included). Level 1 for messages of kSmallMessage bytes
// or more: level 3 cost twice the CPU for a few bytes per message. Below, level -1 (no Huffman
// coding of literals): measured on this project's machine with libzstd 1.5.4, a 198-byte change
// took 4.2 us at level 1 (161 bytes out) and 1.1 us at level -1 (171 bytes), while a 1 KB row of
// 20 columns took 3.2 us at level 1 (544 bytes) and would stay 1 KB at -1
// (docs/replication.md#performance).
constexpr int kCompressionLevel = 1;
constexpr int kSmallMessageLevel = -1;
constexpr qsizetype kSmallMessage = 512;

struct DCtxFree {
  void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};
struct CCtxFree {
  void operator()(ZSTD_CCtx* ctx) const { ZSTD_freeCCtx(ctx); }
};

// One context per thread, reused: creating a zstd context costs more than compressing a
// typical change message.
ZSTD_CCtx* compressionContext() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* decompressionContext() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx([] {
    ZSTD_DCtx* c = ZSTD_createDCtx();
    if (c) ZSTD_DCtx_setParameter(c, ZSTD_d_windowLogMax, kMaxZstdWindowLog);
    return c;
  }());
  return ctx.get();
}

Status zstdError(const char* what, size_t code) {
  return Status::poison(
      QStringLiteral("%1: %2").arg(QLatin1String(what), QLatin1String(ZSTD_getErrorName(code))));
}

}  // namespace

bool isZstdFrame(QByteArrayView payload) {
  return payload.startsWith(QByteArrayView("\x28\xb5\x2f\xfd", 4));
}

QByteArray compressPayload(const QByteArray& raw) {
  QByteArray out(qsizetype(ZSTD_compressBound(size_t(raw.size()))), Qt::Uninitialized);
  ZSTD_CCtx* ctx = compressionContext();
  const int level = raw.size() < kSmallMessage ? kSmallMessageLevel : kCompressionLevel;
  const size_t n = ctx ? ZSTD_compressCCtx(ctx, out.data(), size_t(out.size()), raw.constData(),
                                           size_t(raw.size()), level)
                       : ZSTD_compress(out.data(), size_t(out.size()), raw.constData(),
                                       size_t(raw.size()), level);
  // With a ZSTD_compressBound buffer, zstd fails only when it cannot allocate its context.
  if (ZSTD_isError(n)) qFatal("zstd compression failed: %s", ZSTD_getErrorName(n));
  out.resize(qsizetype(n));
  return out;
}

Result<QByteArray> maybeDecompress(const QByteArray& payload, qsizetype maxBytes) {
  if (!isZstdFrame(payload)) return payload;
  ZSTD_DCtx* ctx = decompressionContext();
  if (!ctx)
    return Status::internal(QStringLiteral("zstd: cannot allocate a decompression context"));
  ZSTD_DCtx_reset(ctx, ZSTD_reset_session_only);

  ZSTD_inBuffer in{payload.constData(), size_t(payload.size()), 0};
  QByteArray out;
  // Frames that state their size (ours and Go's) get one exact buffer; others grow in steps.
  const unsigned long long declared =
      ZSTD_getFrameContentSize(payload.constData(), size_t(payload.size()));
  // A bomb that says what it is: refused before a byte of it is expanded.
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR &&
      declared > (unsigned long long)maxBytes)
    return Status::poison(
        QStringLiteral("zstd frame declares %1 bytes, more than the limit of %2 bytes")
            .arg(declared)
            .arg(maxBytes));
  const qsizetype step =
      declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR && declared < 65536
          ? qsizetype(declared) + 1
          : qsizetype(ZSTD_DStreamOutSize());
  for (;;) {
    // Room for one byte beyond the limit, so that exceeding it is seen.
    const qsizetype at = out.size();
    const qsizetype room = std::min(step, maxBytes + 1 - at);
    out.resize(at + room);
    ZSTD_outBuffer buffer{out.data() + at, size_t(room), 0};
    const size_t rc = ZSTD_decompressStream(ctx, &buffer, &in);
    out.resize(at + qsizetype(buffer.pos));
    if (ZSTD_isError(rc)) return zstdError("zstd decompression failed", rc);
    if (out.size() > maxBytes)
      return Status::poison(
          QStringLiteral("zstd payload decompresses to more than the limit of %1 bytes")
              .arg(maxBytes));
    const bool inputDone = in.pos == in.size;
    if (inputDone && rc == 0) return out;       // every frame complete and flushed
    if (inputDone && buffer.pos < buffer.size)  // zstd wants input that is not there
      return Status::poison(QStringLiteral("truncated zstd frame (%1 bytes)").arg(payload.size()));
  }
}

}  // namespace hl
