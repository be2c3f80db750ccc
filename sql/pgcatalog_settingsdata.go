// Code generated from PostgreSQL 15's pg_settings; DO NOT EDIT.
//
// Regenerate by running, against a PostgreSQL 15 server, for the
// parameters settings.go lists,
//
//	select lower(name), category, short_desc, coalesce(extra_desc, ''), context, vartype, coalesce(unit, ''), coalesce(min_val, ''), coalesce(max_val, ''),
//	 coalesce(array_to_string(enumvals, '|'), '') from pg_settings where lower(name) in (...) order by 1

package sql

// pgSettingInfo is PostgreSQL 15's description of the parameters shard
// knows, by lower-case name (pg_settings' constant columns). enumvals is
// '|'-separated.
var pgSettingInfo = map[string]pgSetting{
	"application_name":                    {"Reporting and Logging / What to Log", "Sets the application name to be reported in statistics and logs.", "", "user", "string", "", "", "", ""},
	"block_size":                          {"Preset Options", "Shows the size of a disk block.", "", "internal", "integer", "", "8192", "8192", ""},
	"bytea_output":                        {"Client Connection Defaults / Statement Behavior", "Sets the output format for bytea.", "", "user", "enum", "", "", "", "escape|hex"},
	"check_function_bodies":               {"Client Connection Defaults / Statement Behavior", "Check routine bodies during CREATE FUNCTION and CREATE PROCEDURE.", "", "user", "bool", "", "", "", ""},
	"client_encoding":                     {"Client Connection Defaults / Locale and Formatting", "Sets the client's character set encoding.", "", "user", "string", "", "", "", ""},
	"client_min_messages":                 {"Client Connection Defaults / Statement Behavior", "Sets the message levels that are sent to the client.", "Each level includes all the levels that follow it. The later the level, the fewer messages are sent.", "user", "enum", "", "", "", "debug5|debug4|debug3|debug2|debug1|log|notice|warning|error"},
	"cluster_name":                        {"Reporting and Logging / Process Title", "Sets the name of the cluster, which is included in the process title.", "", "postmaster", "string", "", "", "", ""},
	"data_directory_mode":                 {"Preset Options", "Shows the mode of the data directory.", "The parameter value is a numeric mode specification in the form accepted by the chmod and umask system calls. (To use the customary octal format the number must start with a 0 (zero).)", "internal", "integer", "", "0", "511", ""},
	"datestyle":                           {"Client Connection Defaults / Locale and Formatting", "Sets the display format for date and time values.", "Also controls interpretation of ambiguous date inputs.", "user", "string", "", "", "", ""},
	"default_tablespace":                  {"Client Connection Defaults / Statement Behavior", "Sets the default tablespace to create tables and indexes in.", "An empty string selects the database's default tablespace.", "user", "string", "", "", "", ""},
	"default_transaction_deferrable":      {"Client Connection Defaults / Statement Behavior", "Sets the default deferrable status of new transactions.", "", "user", "bool", "", "", "", ""},
	"default_transaction_isolation":       {"Client Connection Defaults / Statement Behavior", "Sets the transaction isolation level of each new transaction.", "", "user", "enum", "", "", "", "serializable|repeatable read|read committed|read uncommitted"},
	"default_transaction_read_only":       {"Client Connection Defaults / Statement Behavior", "Sets the default read-only status of new transactions.", "", "user", "bool", "", "", "", ""},
	"enable_seqscan":                      {"Query Tuning / Planner Method Configuration", "Enables the planner's use of sequential-scan plans.", "", "user", "bool", "", "", "", ""},
	"escape_string_warning":               {"Version and Platform Compatibility / Previous PostgreSQL Versions", "Warn about backslash escapes in ordinary string literals.", "", "user", "bool", "", "", "", ""},
	"extra_float_digits":                  {"Client Connection Defaults / Locale and Formatting", "Sets the number of digits displayed for floating-point values.", "This affects real, double precision, and geometric data types. A zero or negative parameter value is added to the standard number of digits (FLT_DIG or DBL_DIG as appropriate). Any value greater than zero selects precise output mode.", "user", "integer", "", "-15", "3", ""},
	"geqo":                                {"Query Tuning / Genetic Query Optimizer", "Enables genetic query optimization.", "This algorithm attempts to do planning without exhaustive searching.", "user", "bool", "", "", "", ""},
	"idle_in_transaction_session_timeout": {"Client Connection Defaults / Statement Behavior", "Sets the maximum allowed idle time between queries, when in a transaction.", "A value of 0 turns off the timeout.", "user", "integer", "ms", "0", "2147483647", ""},
	"in_hot_standby":                      {"Preset Options", "Shows whether hot standby is currently active.", "", "internal", "bool", "", "", "", ""},
	"integer_datetimes":                   {"Preset Options", "Shows whether datetimes are integer based.", "", "internal", "bool", "", "", "", ""},
	"intervalstyle":                       {"Client Connection Defaults / Locale and Formatting", "Sets the display format for interval values.", "", "user", "enum", "", "", "", "postgres|postgres_verbose|sql_standard|iso_8601"},
	"jit":                                 {"Query Tuning / Other Planner Options", "Allow JIT compilation.", "", "user", "bool", "", "", "", ""},
	"lc_collate":                          {"Preset Options", "Shows the collation order locale.", "", "internal", "string", "", "", "", ""},
	"lc_ctype":                            {"Preset Options", "Shows the character classification and case conversion locale.", "", "internal", "string", "", "", "", ""},
	"lc_messages":                         {"Client Connection Defaults / Locale and Formatting", "Sets the language in which messages are displayed.", "", "superuser", "string", "", "", "", ""},
	"lc_monetary":                         {"Client Connection Defaults / Locale and Formatting", "Sets the locale for formatting monetary amounts.", "", "user", "string", "", "", "", ""},
	"lc_numeric":                          {"Client Connection Defaults / Locale and Formatting", "Sets the locale for formatting numbers.", "", "user", "string", "", "", "", ""},
	"lc_time":                             {"Client Connection Defaults / Locale and Formatting", "Sets the locale for formatting date and time values.", "", "user", "string", "", "", "", ""},
	"lock_timeout":                        {"Client Connection Defaults / Statement Behavior", "Sets the maximum allowed duration of any wait for a lock.", "A value of 0 turns off the timeout.", "user", "integer", "ms", "0", "2147483647", ""},
	"log_statement":                       {"Reporting and Logging / What to Log", "Sets the type of statements logged.", "", "superuser", "enum", "", "", "", "none|ddl|mod|all"},
	"maintenance_work_mem":                {"Resource Usage / Memory", "Sets the maximum memory to be used for maintenance operations.", "This includes operations such as VACUUM and CREATE INDEX.", "user", "integer", "kB", "1024", "2147483647", ""},
	"max_connections":                     {"Connections and Authentication / Connection Settings", "Sets the maximum number of concurrent connections.", "", "postmaster", "integer", "", "1", "262143", ""},
	"max_identifier_length":               {"Preset Options", "Shows the maximum identifier length.", "", "internal", "integer", "", "63", "63", ""},
	"password_encryption":                 {"Connections and Authentication / Authentication", "Chooses the algorithm for encrypting passwords.", "", "user", "enum", "", "", "", "md5|scram-sha-256"},
	"row_security":                        {"Client Connection Defaults / Statement Behavior", "Enable row security.", "When enabled, row security will be applied to all users.", "user", "bool", "", "", "", ""},
	"search_path":                         {"Client Connection Defaults / Statement Behavior", "Sets the schema search order for names that are not schema-qualified.", "", "user", "string", "", "", "", ""},
	"server_encoding":                     {"Preset Options", "Shows the server (database) character set encoding.", "", "internal", "string", "", "", "", ""},
	"server_version":                      {"Preset Options", "Shows the server version.", "", "internal", "string", "", "", "", ""},
	"server_version_num":                  {"Preset Options", "Shows the server version as an integer.", "", "internal", "integer", "", "150018", "150018", ""},
	"session_replication_role":            {"Client Connection Defaults / Statement Behavior", "Sets the session's behavior for triggers and rewrite rules.", "", "superuser", "enum", "", "", "", "origin|replica|local"},
	"ssl":                                 {"Connections and Authentication / SSL", "Enables SSL connections.", "", "sighup", "bool", "", "", "", ""},
	"standard_conforming_strings":         {"Version and Platform Compatibility / Previous PostgreSQL Versions", "Causes '...' strings to treat backslashes literally.", "", "user", "bool", "", "", "", ""},
	"statement_timeout":                   {"Client Connection Defaults / Statement Behavior", "Sets the maximum allowed duration of any statement.", "A value of 0 turns off the timeout.", "user", "integer", "ms", "0", "2147483647", ""},
	"synchronous_commit":                  {"Write-Ahead Log / Settings", "Sets the current transaction's synchronization level.", "", "user", "enum", "", "", "", "local|remote_write|remote_apply|on|off"},
	"timezone":                            {"Client Connection Defaults / Locale and Formatting", "Sets the time zone for displaying and interpreting time stamps.", "", "user", "string", "", "", "", ""},
	"timezone_abbreviations":              {"Client Connection Defaults / Locale and Formatting", "Selects a file of time zone abbreviations.", "", "user", "string", "", "", "", ""},
	"transaction_isolation":               {"Client Connection Defaults / Statement Behavior", "Sets the current transaction's isolation level.", "", "user", "enum", "", "", "", "serializable|repeatable read|read committed|read uncommitted"},
	"transaction_read_only":               {"Client Connection Defaults / Statement Behavior", "Sets the current transaction's read-only status.", "", "user", "bool", "", "", "", ""},
	"wal_level":                           {"Write-Ahead Log / Settings", "Sets the level of information written to the WAL.", "", "postmaster", "enum", "", "", "", "minimal|replica|logical"},
	"work_mem":                            {"Resource Usage / Memory", "Sets the maximum memory to be used for query workspaces.", "This much memory can be used by each internal sort operation and hash table before switching to temporary disk files.", "user", "integer", "kB", "64", "2147483647", ""},
	"xmloption":                           {"Client Connection Defaults / Statement Behavior", "Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments.", "", "user", "enum", "", "", "", "content|document"},
}
