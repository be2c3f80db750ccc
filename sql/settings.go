package sql

import (
	"strings"
	"time"

	"github.com/shardingsystem/shard/sql/pgerror"
)

// ServerVersion is the PostgreSQL version shard speaks; clients parse it.
const (
	ServerVersion    = "15.0"
	ServerVersionNum = "150000"
)

// VersionString is what version() returns.
func VersionString() string {
	return "PostgreSQL " + ServerVersion + " (shard) on x86_64-pc-linux-gnu, compiled by Go, 64-bit"
}

type setting struct {
	def        string
	reportable bool // sent as ParameterStatus when it changes
	readOnly   bool
	canonical  string // the name's spelling in SHOW headers and ParameterStatus
}

// settings are the session parameters shard knows, by lower-case name.
var settings = map[string]setting{
	"application_name":                    {def: "", reportable: true, canonical: "application_name"},
	"client_encoding":                     {def: "UTF8", reportable: true, canonical: "client_encoding"},
	"datestyle":                           {def: "ISO, MDY", reportable: true, canonical: "DateStyle"},
	"default_transaction_read_only":       {def: "off", reportable: true, canonical: "default_transaction_read_only"},
	"in_hot_standby":                      {def: "off", reportable: true, readOnly: true, canonical: "in_hot_standby"},
	"integer_datetimes":                   {def: "on", reportable: true, readOnly: true, canonical: "integer_datetimes"},
	"intervalstyle":                       {def: "postgres", reportable: true, canonical: "IntervalStyle"},
	"is_superuser":                        {def: "off", reportable: true, readOnly: true, canonical: "is_superuser"},
	"server_encoding":                     {def: "UTF8", reportable: true, readOnly: true, canonical: "server_encoding"},
	"server_version":                      {def: ServerVersion, reportable: true, readOnly: true, canonical: "server_version"},
	"session_authorization":               {def: "", reportable: true, canonical: "session_authorization"},
	"standard_conforming_strings":         {def: "on", reportable: true, canonical: "standard_conforming_strings"},
	"timezone":                            {def: "UTC", reportable: true, canonical: "TimeZone"},
	"server_version_num":                  {def: ServerVersionNum, readOnly: true, canonical: "server_version_num"},
	"search_path":                         {def: `"$user", public`, canonical: "search_path"},
	"extra_float_digits":                  {def: "1", canonical: "extra_float_digits"},
	"bytea_output":                        {def: "hex", canonical: "bytea_output"},
	"client_min_messages":                 {def: "notice", canonical: "client_min_messages"},
	"default_transaction_isolation":       {def: "repeatable read", canonical: "default_transaction_isolation"},
	"transaction_isolation":               {def: "repeatable read", canonical: "transaction_isolation"},
	"transaction_read_only":               {def: "off", canonical: "transaction_read_only"},
	"default_transaction_deferrable":      {def: "off", canonical: "default_transaction_deferrable"},
	"statement_timeout":                   {def: "0", canonical: "statement_timeout"},
	"lock_timeout":                        {def: "0", canonical: "lock_timeout"},
	"idle_in_transaction_session_timeout": {def: "0", canonical: "idle_in_transaction_session_timeout"},
	"max_identifier_length":               {def: "63", readOnly: true, canonical: "max_identifier_length"},
	"lc_collate":                          {def: "C", readOnly: true, canonical: "lc_collate"},
	"lc_ctype":                            {def: "C", readOnly: true, canonical: "lc_ctype"},
	"lc_messages":                         {def: "C", canonical: "lc_messages"},
	"lc_monetary":                         {def: "C", canonical: "lc_monetary"},
	"lc_numeric":                          {def: "C", canonical: "lc_numeric"},
	"lc_time":                             {def: "C", canonical: "lc_time"},
	"synchronous_commit":                  {def: "on", canonical: "synchronous_commit"},
	"row_security":                        {def: "on", canonical: "row_security"},
	"max_connections":                     {def: "1000", readOnly: true, canonical: "max_connections"},
	"block_size":                          {def: "8192", readOnly: true, canonical: "block_size"},
	"ssl":                                 {def: "on", readOnly: true, canonical: "ssl"},
	"work_mem":                            {def: "4MB", canonical: "work_mem"},
	"maintenance_work_mem":                {def: "64MB", canonical: "maintenance_work_mem"},
	"jit":                                 {def: "off", canonical: "jit"},
	"enable_seqscan":                      {def: "on", canonical: "enable_seqscan"},
	"check_function_bodies":               {def: "on", canonical: "check_function_bodies"},
	"xmloption":                           {def: "content", canonical: "xmloption"},
	"geqo":                                {def: "on", canonical: "geqo"},
	"default_tablespace":                  {def: "", canonical: "default_tablespace"},
	"default_with_oids":                   {def: "off", canonical: "default_with_oids"},
	"escape_string_warning":               {def: "on", canonical: "escape_string_warning"},
	"log_statement":                       {def: "none", canonical: "log_statement"},
	"timezone_abbreviations":              {def: "Default", canonical: "timezone_abbreviations"},
	"session_replication_role":            {def: "origin", canonical: "session_replication_role"},
	"cluster_name":                        {def: "", readOnly: true, canonical: "cluster_name"},
	"data_directory_mode":                 {def: "0700", readOnly: true, canonical: "data_directory_mode"},
	"wal_level":                           {def: "replica", readOnly: true, canonical: "wal_level"},
	"password_encryption":                 {def: "scram-sha-256", canonical: "password_encryption"},
}

// reportOrder is the order of the startup ParameterStatus messages.
var reportOrder = []string{"application_name", "client_encoding", "datestyle", "default_transaction_read_only",
	"in_hot_standby", "integer_datetimes", "intervalstyle", "is_superuser", "server_encoding", "server_version",
	"session_authorization", "standard_conforming_strings", "timezone"}

// normalizeSetting checks and canonicalizes a value for name.
func normalizeSetting(name, value string) (string, error) {
	lname := strings.ToLower(name)
	s, ok := settings[lname]
	if !ok {
		if strings.Contains(lname, ".") {
			return value, nil // a custom (extension-style) parameter
		}
		return "", pgerror.New(pgerror.CodeUndefinedObject, "unrecognized configuration parameter \"%s\"", name)
	}
	if s.readOnly {
		return "", pgerror.New(pgerror.CodeCantChangeRuntimeParam, "parameter \"%s\" cannot be changed", lname)
	}
	switch lname {
	case "timezone":
		switch strings.ToLower(value) {
		case "utc", "etc/utc", "gmt", "z", "zulu", "universal", "0", "+00", "00:00", "+00:00":
			return "UTC", nil
		}
		if _, err := time.LoadLocation(value); err != nil || value == "" || strings.EqualFold(value, "local") {
			return "", pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter \"TimeZone\": \"%s\"", value)
		}
		return value, nil
	case "client_encoding":
		switch strings.ToUpper(strings.ReplaceAll(value, "-", "")) {
		case "UTF8", "UNICODE":
			return "UTF8", nil
		}
		return "", pgerror.New(pgerror.CodeFeatureNotSupported, "conversion between %s and UTF8 is not supported", value)
	case "datestyle":
		v := strings.ToUpper(strings.ReplaceAll(value, " ", ""))
		if strings.Contains(v, "ISO") || v == "" || v == "MDY" || v == "DMY" {
			return "ISO, MDY", nil
		}
		return "", pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter \"DateStyle\": \"%s\"", value).
			WithHint("shard supports only the ISO date style so far.")
	case "standard_conforming_strings":
		if b, ok := parseBoolSetting(value); !ok || !b {
			return "", pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter \"standard_conforming_strings\": \"%s\"", value).
				WithHint("shard supports only standard_conforming_strings = on.")
		}
		return "on", nil
	case "intervalstyle":
		if strings.ToLower(value) != "postgres" {
			return "", pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter \"IntervalStyle\": \"%s\"", value)
		}
		return "postgres", nil
	case "bytea_output":
		if strings.ToLower(value) != "hex" {
			return "", pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter \"bytea_output\": \"%s\"", value)
		}
		return "hex", nil
	case "transaction_isolation", "default_transaction_isolation":
		switch v := strings.ToLower(value); v {
		case "read committed", "repeatable read", "serializable", "read uncommitted":
			// Snapshot isolation is what every level gets; see doc.go.
			return v, nil
		}
		return "", pgerror.New(pgerror.CodeInvalidParameterValue, "invalid value for parameter \"%s\": \"%s\"", lname, value)
	}
	if s.def == "on" || s.def == "off" {
		b, ok := parseBoolSetting(value)
		if !ok {
			return "", pgerror.New(pgerror.CodeInvalidParameterValue, "parameter \"%s\" requires a Boolean value", lname)
		}
		if b {
			return "on", nil
		}
		return "off", nil
	}
	return value, nil
}

func parseBoolSetting(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1", "t", "y":
		return true, true
	case "off", "false", "no", "0", "f", "n":
		return false, true
	}
	return false, false
}
