#include "common/tls_inspect.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/atomic_file.h"

namespace cohort {
namespace {

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct KeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct CtxFree { void operator()(SSL_CTX* c) const { SSL_CTX_free(c); } };
struct SslFree { void operator()(SSL* s) const { SSL_free(s); } };
struct StoreFree { void operator()(X509_STORE* s) const { X509_STORE_free(s); } };
struct StoreCtxFree { void operator()(X509_STORE_CTX* s) const { X509_STORE_CTX_free(s); } };
using X509Ptr = std::unique_ptr<X509, X509Free>;

// A socket closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Time ToTime(const ASN1_TIME* t) {
  struct tm parts = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &parts) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&parts));
}

std::string NameText(const X509_NAME* name) {
  if (name == nullptr) return "?";
  char buffer[256];
  X509_NAME_oneline(name, buffer, sizeof(buffer));
  std::string text = buffer;
  if (!text.empty() && text[0] == '/') text.erase(0, 1);
  return text;
}

std::vector<std::string> AltNames(X509* cert) {
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans == nullptr) return names;
  for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type == GEN_DNS) {
      const unsigned char* data = ASN1_STRING_get0_data(name->d.dNSName);
      names.emplace_back(reinterpret_cast<const char*>(data),
                         static_cast<size_t>(ASN1_STRING_length(name->d.dNSName)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = "";
      int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text));
      names.push_back(text);
    }
  }
  GENERAL_NAMES_free(sans);
  return names;
}

CertificateInfo InfoOf(X509* cert) {
  CertificateInfo info;
  info.subject = NameText(X509_get_subject_name(cert));
  info.names = AltNames(cert);
  info.not_before = ToTime(X509_get0_notBefore(cert));
  info.not_after = ToTime(X509_get0_notAfter(cert));
  return info;
}

X509Ptr FirstCertificate(const std::string& pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// host and port of "host:port" or "[v6]:port".
// Every certificate of a PEM text, in order.
std::vector<X509Ptr> AllCertificates(const std::string& pem) {
  std::vector<X509Ptr> certificates;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(cert);
  }
  ERR_clear_error();  // the end of the text reads as an error
  return certificates;
}

// A store trusting every certificate of `ca_pem`.
std::unique_ptr<X509_STORE, StoreFree> TrustStore(const std::string& ca_pem) {
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  if (store == nullptr) return store;
  for (const X509Ptr& ca : AllCertificates(ca_pem)) X509_STORE_add_cert(store.get(), ca.get());
  return store;
}

bool SplitAddress(const std::string& address, std::string* host, std::string* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return !host->empty() && !port->empty();
}

int ConnectTcp(const std::string& address, absl::Duration timeout) {
  std::string host, port;
  if (!SplitAddress(address, &host, &port)) return -1;
  addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    bool connected = false;
    if (errno == EINPROGRESS) {
      pollfd p = {fd, POLLOUT, 0};
      int error = 0;
      socklen_t length = sizeof(error);
      connected = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 1 &&
                  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
    }
    if (!connected) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return -1;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv = {static_cast<time_t>(absl::ToInt64Seconds(timeout)), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return fd;
}

std::string Quoted(const std::string& file) { return file.empty() ? "" : " " + file; }

// What the server's alert says about our client certificate.
std::string ClientCertificateRefused(int reason, const TlsProbe& probe) {
  const std::string file = probe.cert_file.empty() ? "" : " " + probe.cert_file;
  switch (reason) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return "cohortd requires a client certificate (--tls-client-ca) and none was given: "
             "pass --tls-cert and --tls-key";
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      return absl::StrCat("cohortd refused the client certificate", file, ": it has expired");
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
      return absl::StrCat("cohortd refused the client certificate", file, " (",
                          ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, reason)),
                          "): it is not signed by the CA cohortd's --tls-client-ca names");
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      return probe.cert_pem.empty()
                 ? "cohortd ended the handshake: it may require a client certificate "
                   "(--tls-client-ca); pass --tls-cert and --tls-key"
                 : absl::StrCat("cohortd ended the handshake and refused the client "
                                "certificate", file);
    default:
      return "";
  }
}

// The server ended the connection once it had our side of the handshake,
// without an alert: it wanted a client certificate we did not send, or did
// not trust the one we sent (an expired one is named before connecting).
std::string ClosedAfterHandshake(const TlsProbe& probe) {
  if (probe.cert_pem.empty()) {
    return "cohortd requires a client certificate (--tls-client-ca) and none was given "
           "(it closed the connection after the handshake): pass --tls-cert and --tls-key";
  }
  return absl::StrCat("cohortd refused the client certificate", Quoted(probe.cert_file),
                      " (it closed the connection after the handshake): it is not signed by "
                      "the CA cohortd's --tls-client-ca names");
}

bool PlaintextReply(int reason) {
  return reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
         reason == SSL_R_UNKNOWN_PROTOCOL;
}

// The server's certificate against the CA, the dates and the expected name.
std::string CheckServerCertificate(SSL* ssl, const TlsProbe& probe) {
  X509Ptr peer(SSL_get1_peer_certificate(ssl));
  if (peer == nullptr) return "cohortd presented no certificate";
  CertificateInfo info = InfoOf(peer.get());
  const std::string who = absl::StrCat("cohortd's certificate (", info.subject, ")");
  absl::Time now = absl::Now();
  if (info.not_after < now) {
    return absl::StrCat(who, " expired at ", FormatCertificateTime(info.not_after));
  }
  if (info.not_before > now) {
    return absl::StrCat(who, " is not valid before ", FormatCertificateTime(info.not_before));
  }
  if (!probe.ca_pem.empty()) {
    std::unique_ptr<X509_STORE, StoreFree> store = TrustStore(probe.ca_pem);
    std::unique_ptr<X509_STORE_CTX, StoreCtxFree> verify(X509_STORE_CTX_new());
    X509_STORE_CTX_init(verify.get(), store.get(), peer.get(), SSL_get_peer_cert_chain(ssl));
    if (X509_verify_cert(verify.get()) != 1) {
      int error = X509_STORE_CTX_get_error(verify.get());
      return absl::StrCat(who, ", issued by ", NameText(X509_get_issuer_name(peer.get())),
                          ", is not signed by the CA in", Quoted(probe.ca_file), " (",
                          X509_verify_cert_error_string(error), ")");
    }
  }
  if (!probe.expected_name.empty()) {
    in6_addr ip;
    bool is_ip = inet_pton(AF_INET, probe.expected_name.c_str(), &ip) == 1 ||
                 inet_pton(AF_INET6, probe.expected_name.c_str(), &ip) == 1;
    int match = is_ip ? X509_check_ip_asc(peer.get(), probe.expected_name.c_str(), 0)
                      : X509_check_host(peer.get(), probe.expected_name.c_str(),
                                        probe.expected_name.size(), 0, nullptr);
    if (match != 1) {
      return absl::StrCat(who, " names ",
                          info.names.empty() ? "no subjectAltName"
                                             : absl::StrJoin(info.names, ", "),
                          "; not ", probe.expected_name,
                          is_ip ? " (dialling by IP needs an IP subjectAltName)" : "");
    }
  }
  return "";
}

}  // namespace

std::string FormatCertificateTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

absl::StatusOr<CertificateInfo> ReadCertificatePem(const std::string& pem,
                                                   const std::string& what) {
  X509Ptr cert = FirstCertificate(pem);
  ERR_clear_error();
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": no PEM certificate in it"));
  }
  return InfoOf(cert.get());
}

absl::StatusOr<CertificateInfo> ReadCertificateFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ReadCertificatePem(*text, path);
}

absl::Status CheckCertificateDates(const std::string& path, absl::Time now,
                                   absl::Duration warn_within, std::string* warning) {
  absl::StatusOr<std::string> pem = ReadFileToString(path);
  if (!pem.ok()) return pem.status();
  return CheckCertificatePemDates(*pem, path, now, warn_within, warning);
}

absl::Status CheckCertificatePemDates(const std::string& pem, const std::string& path,
                                      absl::Time now, absl::Duration warn_within,
                                      std::string* warning) {
  absl::StatusOr<CertificateInfo> info = ReadCertificatePem(pem, path);
  if (!info.ok()) return info.status();
  if (info->not_after <= now) {
    return absl::FailedPreconditionError(absl::StrCat(
        "certificate ", path, " (", info->subject, ") expired at ",
        FormatCertificateTime(info->not_after), ": renew it (docs/deploy.md)"));
  }
  if (info->not_before > now) {
    return absl::FailedPreconditionError(
        absl::StrCat("certificate ", path, " (", info->subject, ") is not valid before ",
                     FormatCertificateTime(info->not_before)));
  }
  if (warning != nullptr && info->not_after - now < warn_within) {
    *warning = absl::StrCat("certificate ", path, " (", info->subject, ") expires at ",
                            FormatCertificateTime(info->not_after), ", in ",
                            absl::StrFormat("%.1f", absl::ToDoubleHours(info->not_after - now) / 24),
                            " days");
  }
  return absl::OkStatus();
}

namespace {

struct StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }  // the certificates are borrowed
};

// The security level OpenSSL gives a TLS context on this system (its
// configuration's; Debian: 2), which the handshake applies to the peer's
// certificate chain.
int TlsSecurityLevel() {
  static const int level = [] {
    std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_server_method()));
    return ctx == nullptr ? 2 : SSL_CTX_get_security_level(ctx.get());
  }();
  return level;
}

std::string ClientVerifyFailure(int error, X509* leaf, const std::string& ca_file) {
  CertificateInfo info = InfoOf(leaf);
  const std::string who = absl::StrCat("the client certificate (", info.subject, ")");
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return absl::StrCat(who, " expired at ", FormatCertificateTime(info.not_after));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return absl::StrCat(who, " is not valid before ", FormatCertificateTime(info.not_before));
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return absl::StrCat(who, ", issued by ", NameText(X509_get_issuer_name(leaf)),
                          ", is not signed by the CA in ", ca_file, " (",
                          X509_verify_cert_error_string(error), ")");
    case X509_V_ERR_INVALID_PURPOSE:
      return absl::StrCat(who, " is not for client use (its extended key usage)");
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
    case X509_V_ERR_CA_MD_TOO_WEAK:
      return absl::StrCat(who, " has a key or signature too weak for TLS security level ",
                          TlsSecurityLevel(), " (", X509_verify_cert_error_string(error),
                          "): reissue it (RSA 2048 bits or more, SHA-256)");
    default:
      return absl::StrCat(who, " did not verify against ", ca_file, ": ",
                          X509_verify_cert_error_string(error));
  }
}

}  // namespace

absl::Status VerifyClientCertificate(const std::string& leaf_pem, const std::string& chain_pem,
                                     const std::string& ca_pem, const std::string& ca_file,
                                     absl::Time now) {
  X509Ptr leaf = FirstCertificate(leaf_pem);
  ERR_clear_error();
  if (leaf == nullptr) {
    return absl::InvalidArgumentError("the client presented no PEM certificate");
  }
  std::unique_ptr<X509_STORE, StoreFree> store = TrustStore(ca_pem);
  std::vector<X509Ptr> sent = AllCertificates(chain_pem);
  std::unique_ptr<STACK_OF(X509), StackFree> untrusted(sk_X509_new_null());
  for (const X509Ptr& cert : sent) sk_X509_push(untrusted.get(), cert.get());
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> verify(X509_STORE_CTX_new());
  if (store == nullptr || untrusted == nullptr || verify == nullptr ||
      X509_STORE_CTX_init(verify.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    ERR_clear_error();
    return absl::ResourceExhaustedError("client certificate check: out of memory");
  }
  // As OpenSSL's TLS server checks its client: the purpose and trust of a
  // client certificate, at `now`, with the keys and signatures the
  // handshake's security level allows.
  X509_STORE_CTX_set_default(verify.get(), "ssl_client");
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(verify.get());
  X509_VERIFY_PARAM_set_time(param, absl::ToTimeT(now));
  X509_VERIFY_PARAM_set_auth_level(param, TlsSecurityLevel());
  // gRPC's handshake trusts every certificate of the CA file as an anchor,
  // an intermediate alone included (measured against gRPC 1.51).
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  const bool verified = X509_verify_cert(verify.get()) == 1;
  const int error = X509_STORE_CTX_get_error(verify.get());
  ERR_clear_error();
  if (verified) return absl::OkStatus();
  return absl::UnauthenticatedError(ClientVerifyFailure(error, leaf.get(), ca_file));
}

absl::Status CheckKeyMatchesCertificate(const std::string& cert_path,
                                        const std::string& key_path) {
  absl::StatusOr<std::string> cert_pem = ReadFileToString(cert_path);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFileToString(key_path);
  if (!key_pem.ok()) return key_pem.status();
  return CheckKeyMatchesCertificatePem(*cert_pem, *key_pem, cert_path, key_path);
}

absl::Status CheckKeyMatchesCertificatePem(const std::string& cert_pem,
                                           const std::string& key_pem,
                                           const std::string& cert_path,
                                           const std::string& key_path) {
  X509Ptr cert = FirstCertificate(cert_pem);
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(cert_path, ": no PEM certificate in it"));
  }
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(key_path, ": no PEM private key in it"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "the private key ", key_path, " does not belong to the certificate ", cert_path));
  }
  return absl::OkStatus();
}

std::string DiagnoseTlsFailure(const TlsProbe& given) {
  TlsProbe probe = given;
  std::string port;
  if (probe.expected_name.empty()) SplitAddress(probe.address, &probe.expected_name, &port);
  if (!probe.cert_pem.empty()) {
    absl::StatusOr<CertificateInfo> mine = ReadCertificatePem(probe.cert_pem, probe.cert_file);
    if (mine.ok() && mine->not_after < absl::Now()) {
      return absl::StrCat("the client certificate", Quoted(probe.cert_file), " expired at ",
                          FormatCertificateTime(mine->not_after));
    }
  }
  Fd fd(ConnectTcp(probe.address, probe.timeout));
  if (fd.get() < 0) return "";
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return "";
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn));
  if (!probe.cert_pem.empty()) {
    X509Ptr cert = FirstCertificate(probe.cert_pem);
    std::unique_ptr<BIO, BioFree> bio(
        BIO_new_mem_buf(probe.key_pem.data(), static_cast<int>(probe.key_pem.size())));
    std::unique_ptr<EVP_PKEY, KeyFree> key(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (cert != nullptr && key != nullptr) {
      SSL_CTX_use_certificate(ctx.get(), cert.get());
      SSL_CTX_use_PrivateKey(ctx.get(), key.get());
    }
  }
  ERR_clear_error();
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd.get());
  int rc = SSL_connect(ssl.get());
  if (rc != 1) {
    int reason = ERR_GET_REASON(ERR_peek_last_error());
    int kind = SSL_get_error(ssl.get(), rc);
    ERR_clear_error();
    const bool closed = kind == SSL_ERROR_SYSCALL || kind == SSL_ERROR_ZERO_RETURN ||
                        reason == SSL_R_UNEXPECTED_EOF_WHILE_READING;
    // A server that sent its certificate speaks TLS: closing then is how
    // gRPC refuses a client under TLS 1.2 (it sends no alert). Debian's
    // gRPC and OpenSSL negotiate TLS 1.3, where the refusal comes after the
    // handshake (below); this keeps a peer on TLS 1.2 from reading as
    // "does not speak TLS".
    if (closed && SSL_get0_peer_certificate(ssl.get()) != nullptr) {
      return ClosedAfterHandshake(probe);
    }
    if (PlaintextReply(reason) || closed) {
      return absl::StrCat(probe.address,
                          " does not speak TLS (a cohortd without --tls-cert serves plaintext): "
                          "give cohortd its certificate, or drop --tls-ca");
    }
    std::string refused = ClientCertificateRefused(reason, probe);
    if (!refused.empty()) return refused;
    return absl::StrCat("the TLS handshake with ", probe.address, " failed: ",
                        ERR_reason_error_string(ERR_PACK(ERR_LIB_SSL, 0, reason)));
  }
  std::string server = CheckServerCertificate(ssl.get(), probe);
  if (!server.empty()) return server;
  // Under TLS 1.3 the server judges our certificate after our side of the
  // handshake is done: its verdict is the first thing it sends (an alert),
  // else its HTTP/2 settings.
  char byte = 0;
  rc = SSL_read(ssl.get(), &byte, 1);
  if (rc <= 0) {
    int reason = ERR_GET_REASON(ERR_peek_last_error());
    int kind = SSL_get_error(ssl.get(), rc);
    ERR_clear_error();
    std::string refused = ClientCertificateRefused(reason, probe);
    if (!refused.empty()) return refused;
    // gRPC (cohortd, a worker's artifact listener) sends no alert: it
    // closes the connection. A server that accepted us would have sent its
    // HTTP/2 settings first.
    if (kind == SSL_ERROR_SYSCALL || kind == SSL_ERROR_ZERO_RETURN ||
        reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      return ClosedAfterHandshake(probe);
    }
  }
  return "";
}

}  // namespace cohort
