// libcurl, loaded when a remote snapshot store (S3, WebDAV, SFTP) first needs it instead of when
// the program starts (docs/snapshots.md#libcurl). libcurl brings GnuTLS, Kerberos, LDAP, libssh2
// and their own dependencies, about 3 MB resident in every node at load; most nodes keep their
// snapshots in NATS or a folder and never use it (docs/replication.md#performance).
// Written by hand: no Debian package loads libcurl lazily. The functions are the ten the stores
// call, taken with dlsym from libcurl.so.4 (the ABI of Debian's libcurl4 and every libcurl
// since 7.16); the header is still curl/curl.h, so types and option numbers are curl's own.
// Thread: any; load() may be called from several threads at once.
#pragma once

#include <curl/curl.h>

#include <QString>

namespace hl::curl {

struct Api {
  CURLcode (*globalInit)(long flags);
  CURL* (*easyInit)();
  void (*easyCleanup)(CURL* handle);
  void (*easyReset)(CURL* handle);
  CURLcode (*easyPerform)(CURL* handle);
  CURLcode (*easySetopt)(CURL* handle, CURLoption option, ...);
  CURLcode (*easyGetinfo)(CURL* handle, CURLINFO info, ...);
  const char* (*easyStrerror)(CURLcode code);
  curl_slist* (*slistAppend)(curl_slist* list, const char* line);
  void (*slistFreeAll)(curl_slist* list);
};

// Loads libcurl once and runs curl_global_init. Null when it cannot be loaded, with *error
// saying why (the same answer every time: a failed load is not retried).
const Api* load(QString* error);

// The loaded library: only after load() returned it.
const Api& api();

// curl_easy_setopt and curl_easy_getinfo through the loaded library. The value is passed as
// the variadic argument, exactly as a direct call passes it.
template <typename T>
CURLcode setopt(CURL* handle, CURLoption option, T value) {
  return api().easySetopt(handle, option, value);
}
template <typename T>
CURLcode getinfo(CURL* handle, CURLINFO info, T* out) {
  return api().easyGetinfo(handle, info, out);
}

}  // namespace hl::curl
