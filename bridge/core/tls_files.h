#ifndef PORTRAIT_BRIDGE_CORE_TLS_FILES_H_
#define PORTRAIT_BRIDGE_CORE_TLS_FILES_H_

#include <string>

#include "absl/status/status.h"

namespace portrait_bridge {

/// Checks the gRPC port's TLS files as the bridge starts: `cert_file` holds a PEM certificate (the
/// leaf first), `key_file` a PEM private key that matches the leaf, and `client_ca_file`, when not empty, at least
/// one PEM certificate. gRPC's file-watcher certificate provider, which serves these files and rereads them, only
/// logs files it cannot use, and the server would start with no certificate; this check makes that a start
/// failure. INVALID_ARGUMENT names the setting and the path; no file content ever appears in it.
absl::Status CheckServerTlsFiles(const std::string& cert_file, const std::string& key_file,
                                 const std::string& client_ca_file);

}  // namespace portrait_bridge

#endif  // PORTRAIT_BRIDGE_CORE_TLS_FILES_H_
