// libFuzzer target for the configuration loader (docs/configuration.md): loadConfigBytes on
// arbitrary bytes, as loadConfigFile hands it a file's contents. Every rejection must be a
// kInvalidArgument status whose message starts with "<file>:<line>:" (the way every
// configuration error names where it is); an accepted configuration must hold values inside the
// documented ranges. Anything else aborts, and so does any sanitizer report (toml++ is compiled
// header-only into this target, so its parser is fuzzed too).
#include <QByteArray>
#include <QRegularExpression>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "harmonylite/config.h"

namespace {

[[noreturn]] void fail(const char* what, const QString& detail) {
  std::fprintf(stderr, "fuzz_config: %s: %s\n", what, qPrintable(detail));
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const QString source = QStringLiteral("/fuzz/config.toml");
  static const QRegularExpression located(QStringLiteral("^/fuzz/config\\.toml:\\d+: "));
  const QByteArray bytes(reinterpret_cast<const char*>(data), qsizetype(size));
  const hl::Result<hl::LoadedConfig> r = hl::loadConfigBytes(bytes, source);
  if (!r.ok()) {
    if (r.status().code() != hl::Status::Code::kInvalidArgument)
      fail("rejected, not invalid-argument", r.status().toString());
    if (!located.match(r.status().message()).hasMatch())
      fail("the error does not name file and line", r.status().message());
    return 0;
  }
  const hl::Config& c = r->config;
  const auto& rl = c.replicationLog;
  if (rl.shards < 1 || rl.shards > 1024 || rl.maxEntries < 1 || rl.maxMessageBytes < 4096 ||
      rl.maxMessageBytes > (int64_t(1) << 30) || rl.keepPublishedMs < 0 || c.scanMaxChanges < 1 ||
      c.snapshot.keep < 1)
    fail("accepted a value out of range", source);
  for (const hl::ConfigWarning& w : r->warnings)
    if (!w.message.startsWith(source)) fail("a warning does not name the file", w.message);
  return 0;
}
