// Self-signed certificate generation for --tls-self-signed (OpenSSL 3 API).
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "smtp/listener.h"

namespace mailjar::smtp {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;

bool add_ext(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

core::Result<void> ensure_self_signed(const std::string& cert_path, const std::string& key_path,
                                      const std::string& hostname) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(cert_path, ec) && fs::exists(key_path, ec)) return {};
  fs::create_directories(fs::path(cert_path).parent_path(), ec);
  fs::create_directories(fs::path(key_path).parent_path(), ec);

  PkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  if (!key || !cert) return core::make_error("tls", "cannot create a key pair");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), static_cast<long>(std::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 825);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("mailjar"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(hostname.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  std::string san = "DNS:" + hostname + ",DNS:localhost,IP:127.0.0.1,IP:::1";
  if (!add_ext(cert.get(), NID_subject_alt_name, san) ||
      !add_ext(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !X509_sign(cert.get(), key.get(), EVP_sha256())) {
    return core::make_error("tls", "cannot sign the self-signed certificate");
  }
  FILE* kf = std::fopen(key_path.c_str(), "wb");
  if (!kf) return core::make_error("io", "cannot write " + key_path);
  ::chmod(key_path.c_str(), 0600);
  bool ok = PEM_write_PrivateKey(kf, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  ok = (std::fclose(kf) == 0) && ok;
  FILE* cf = std::fopen(cert_path.c_str(), "wb");
  if (!cf) return core::make_error("io", "cannot write " + cert_path);
  ok = PEM_write_X509(cf, cert.get()) == 1 && ok;
  ok = (std::fclose(cf) == 0) && ok;
  if (!ok) return core::make_error("io", "cannot write the self-signed certificate");
  return {};
}

}  // namespace mailjar::smtp
