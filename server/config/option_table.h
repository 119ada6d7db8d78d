// NAME
//   config/option_table - the one table of options and commands that both the parser and the help
//   texts are generated from.
// CONTRACT
//   Private to config/ (tests include it to iterate over every option). Adding an option means adding
//   one row here: its flag, value type, range, help line, default display and assignment; the parser,
//   the MAILJAR_* variable, the error messages and the help text all follow from that row.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "config/options.h"
#include "config/values.h"

namespace mailjar::config::internal {

template <typename Options>
struct OptionSpec {
  std::string_view flag;                          // long name without the leading "--"
  ValueSpec value;                                // type, help placeholder, range
  std::string_view help;                          // one line: what the option is for
  bool has_env;                                   // also settable through env_var_name(flag)
  std::string (*show_default)(const Options&);    // the built-in default as shown in help
  void (*assign)(Options&, const Value& parsed);  // stores a parsed, range-checked value
};

using ServeOption = OptionSpec<ServeOptions>;
using AdminOption = OptionSpec<AdminOptions>;

// Every `mailjar serve` option, in help order.
std::span<const ServeOption> serve_options();
// The options of the admin commands (each command accepts the subset named in its CommandSpec).
std::span<const AdminOption> admin_options();

struct CommandSpec {
  std::string_view name;  // "serve", "project create": the words that select the command
  Command::Kind kind;
  std::string_view operand;      // positional argument placeholder ("NAME"), or empty for none
  std::string_view admin_flags;  // space-separated admin_options() flags it accepts; serve: unused
  std::string_view summary;      // one line for the top help
};

// Every command, in help order.
std::span<const CommandSpec> commands();

// The help text of one command (`mailjar project create --help`).
std::string command_help(const CommandSpec& command);

// "max-message-size" -> "MAILJAR_MAX_MESSAGE_SIZE".
std::string env_var_name(std::string_view flag);

}  // namespace mailjar::config::internal
