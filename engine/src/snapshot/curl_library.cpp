#include "snapshot/curl_library.h"

#include <dlfcn.h>

#include <mutex>

namespace hl::curl {
namespace {

constexpr const char* kLibrary = "libcurl.so.4";

struct Loaded {
  Api api{};
  QString error;  // empty when loaded
};

template <typename F>
bool bind(void* handle, const char* name, F* slot, QString* error) {
  void* symbol = ::dlsym(handle, name);
  if (!symbol) {
    *error = QStringLiteral("%1 has no %2").arg(QLatin1String(kLibrary), QLatin1String(name));
    return false;
  }
  *slot = reinterpret_cast<F>(symbol);
  return true;
}

Loaded loadOnce() {
  Loaded l;
  // RTLD_LOCAL: libcurl's symbols (and its TLS library's) do not join the program's.
  void* handle = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    l.error = QString::fromLocal8Bit(::dlerror());
    return l;
  }
  Api& a = l.api;
  const bool ok = bind(handle, "curl_global_init", &a.globalInit, &l.error) &&
                  bind(handle, "curl_easy_init", &a.easyInit, &l.error) &&
                  bind(handle, "curl_easy_cleanup", &a.easyCleanup, &l.error) &&
                  bind(handle, "curl_easy_reset", &a.easyReset, &l.error) &&
                  bind(handle, "curl_easy_perform", &a.easyPerform, &l.error) &&
                  bind(handle, "curl_easy_setopt", &a.easySetopt, &l.error) &&
                  bind(handle, "curl_easy_getinfo", &a.easyGetinfo, &l.error) &&
                  bind(handle, "curl_easy_strerror", &a.easyStrerror, &l.error) &&
                  bind(handle, "curl_slist_append", &a.slistAppend, &l.error) &&
                  bind(handle, "curl_slist_free_all", &a.slistFreeAll, &l.error);
  if (!ok) return l;  // (the handle stays open: unloading TLS libraries is not safe)
  if (const CURLcode rc = a.globalInit(CURL_GLOBAL_DEFAULT); rc != CURLE_OK)
    l.error = QStringLiteral("curl_global_init failed (%1)").arg(int(rc));
  return l;
}

const Loaded& loaded() {
  static const Loaded l = loadOnce();  // (thread-safe initialisation)
  return l;
}

}  // namespace

const Api* load(QString* error) {
  const Loaded& l = loaded();
  if (l.error.isEmpty()) return &l.api;
  if (error)
    *error = QStringLiteral(
                 "libcurl could not be loaded (%1); the S3, WebDAV and SFTP snapshot stores need "
                 "the libcurl4 package")
                 .arg(l.error);
  return nullptr;
}

const Api& api() {
  return loaded().api;
}

}  // namespace hl::curl
