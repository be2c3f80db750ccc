package api

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
)

// Template sets a new database's initial shards and its quotas. A zero
// limit means unlimited.
type Template struct {
	Name string `json:"name"`
	// MaxDatabases is how many databases of this template one account may
	// have (the admin account has no limit).
	MaxDatabases int `json:"max_databases"`
	// MaxShards caps the database's ranges: automatic splits stop there.
	MaxShards int `json:"max_shards"`
	// StorageBytes caps the database's stored bytes: writes beyond it fail
	// with SQLSTATE 53100; reads and deletes keep working.
	StorageBytes uint64 `json:"storage_bytes"`
	// InitialShards is how many ranges the database starts with, spread
	// over the nodes.
	InitialShards int `json:"initial_shards"`
}

// DefaultTemplate is the template of a database created without one.
const DefaultTemplate = "free"

const gb = 1000 * 1000 * 1000

// DefaultTemplates are the product's templates (DESIGN.md, "Templates").
func DefaultTemplates() []Template {
	return []Template{
		{Name: "free", MaxDatabases: 1, MaxShards: 2, StorageBytes: 10 * gb, InitialShards: 2},
		{Name: "starter", MaxDatabases: 3, MaxShards: 10, StorageBytes: 100 * gb, InitialShards: 2},
		{Name: "growth", MaxShards: 50, StorageBytes: 500 * gb, InitialShards: 4},
		{Name: "enterprise", InitialShards: 4},
	}
}

var templateName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,30}$`)

// LoadTemplates reads templates from a JSON file (an array of Template),
// which replace the defaults of the same name and add the others.
func LoadTemplates(path string) ([]Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	var extra []Template
	if err := json.Unmarshal(b, &extra); err != nil {
		return nil, fmt.Errorf("templates: %s: %w", path, err)
	}
	byName := map[string]Template{}
	for _, t := range DefaultTemplates() {
		byName[t.Name] = t
	}
	for _, t := range extra {
		if !templateName.MatchString(t.Name) {
			return nil, fmt.Errorf("templates: %s: bad template name %q", path, t.Name)
		}
		if t.InitialShards < 1 || t.MaxDatabases < 0 || t.MaxShards < 0 || (t.MaxShards > 0 && t.InitialShards > t.MaxShards) {
			return nil, fmt.Errorf("templates: %s: template %q: need initial_shards >= 1, within max_shards, and no negative limit", path, t.Name)
		}
		byName[t.Name] = t
	}
	out := make([]Template, 0, len(byName))
	for _, t := range byName {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// FindTemplate returns the template named name.
func FindTemplate(ts []Template, name string) (Template, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t, true
		}
	}
	return Template{}, false
}
