// libFuzzer target: the SMTP command-line parser (RFC 5321 verbs and MAIL/RCPT/BDAT/AUTH arguments).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "smtp/command.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  mailjar::smtp::classify_line(line);
  const mailjar::smtp::CommandLine cmd = mailjar::smtp::parse_command_line(line);
  mailjar::smtp::MailFrom mail;
  mailjar::smtp::parse_mail_from(cmd.arg, mail);
  mailjar::smtp::RcptTo rcpt;
  mailjar::smtp::parse_rcpt_to(cmd.arg, rcpt);
  std::uint64_t chunk = 0;
  bool last = false;
  mailjar::smtp::parse_bdat(cmd.arg, chunk, last);
  std::string_view mechanism, initial;
  mailjar::smtp::parse_auth(cmd.arg, mechanism, initial);
  mailjar::smtp::is_xtext(line);
  return 0;
}
