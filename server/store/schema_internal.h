// Private to store: the schema migrations compiled into the binary (generated from schema/NNN_name.sql by
// embed_schema.cmake). Versions are 1..N in order; PRAGMA user_version holds the last one applied.
#pragma once

#include <span>

namespace mailjar::store::internal {

struct Migration {
  int version;       // NNN of the file name
  const char* name;  // e.g. "001_init"
  const char* sql;   // the file's text, one or more statements
};

// All migrations, in version order (migrations()[i].version == i + 1).
std::span<const Migration> migrations();

}  // namespace mailjar::store::internal
