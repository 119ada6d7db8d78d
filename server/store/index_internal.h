// Private to store (and its tests): the encoding of message_raw.index_data, and the SQL function that
// reads it back. messages_fts is a contentless FTS5 table, so deleting a row needs the exact column
// values it was indexed with; they are kept, compressed, next to the raw bytes.
//
// Format: a zstd frame whose content is, for each FTS column in order (subject, from, to, cc, bcc, body),
// a 4-byte little-endian length followed by that many bytes.
#pragma once

#include <string>
#include <string_view>

struct sqlite3;
struct ZSTD_DCtx_s;
typedef struct ZSTD_DCtx_s ZSTD_DCtx;

namespace mailjar::store::internal {

inline constexpr int kIndexFields = 6;

// Appends the length-prefixed fields to `out` (uncompressed).
void encode_index_fields(const std::string_view (&fields)[kIndexFields], std::string& out);

// Finds field `index` in uncompressed encoded data; false if the data is malformed or index out of range.
bool decode_index_field(std::string_view encoded, int index, std::string_view& field);

// Decompresses an index_data value into `plain` (the encoded fields); false if it is malformed.
bool unpack_index_data(ZSTD_DCtx* dctx, const void* blob, std::size_t size, std::string& plain);

// Registers mailjar_index_field(index_data BLOB, i INTEGER) -> TEXT on `db`; the schema's delete trigger
// uses it. Raises an SQL error on malformed data, so a delete never corrupts the index. Returns an
// SQLite result code.
int register_sql_functions(sqlite3* db);

}  // namespace mailjar::store::internal
