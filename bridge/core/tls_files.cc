#include "bridge/core/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace portrait_bridge {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x509) const { X509_free(x509); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using UniqueBio = std::unique_ptr<BIO, BioFree>;
using UniqueX509 = std::unique_ptr<X509, X509Free>;
using UniqueKey = std::unique_ptr<EVP_PKEY, KeyFree>;

absl::Status Invalid(const char* setting, const std::string& path, absl::string_view why) {
  ERR_clear_error();  // OpenSSL's queue would otherwise leak into the next unrelated error report.
  return absl::InvalidArgumentError(absl::StrCat("configuration: ", setting, "=\"", path, "\" ", why));
}

// The first certificate of a PEM file; null when the file cannot be read or holds none.
UniqueX509 FirstCertificate(const std::string& path) {
  const UniqueBio bio(BIO_new_file(path.c_str(), "r"));
  return UniqueX509(bio == nullptr ? nullptr : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

}  // namespace

absl::Status CheckServerTlsFiles(const std::string& cert_file, const std::string& key_file,
                                 const std::string& client_ca_file) {
  const UniqueX509 leaf = FirstCertificate(cert_file);
  if (leaf == nullptr) return Invalid("tls_cert_file", cert_file, "holds no PEM certificate");
  const UniqueBio key_bio(BIO_new_file(key_file.c_str(), "r"));
  // A null passphrase callback with no user data: an encrypted key fails here instead of prompting.
  const UniqueKey key(key_bio == nullptr ? nullptr : PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return Invalid("tls_key_file", key_file, "holds no unencrypted PEM private key");
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    return Invalid("tls_key_file", key_file, absl::StrCat("does not match the certificate in ", cert_file));
  }
  if (!client_ca_file.empty() && FirstCertificate(client_ca_file) == nullptr) {
    return Invalid("tls_client_ca_file", client_ca_file, "holds no PEM certificate");
  }
  ERR_clear_error();
  return absl::OkStatus();
}

}  // namespace portrait_bridge
