package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apistore/apistore/db/sqlite"
	"github.com/apistore/apistore/internal/fixture"
	"github.com/apistore/apistore/portal"
)

// Migrations are the SQLite store's own: these tests change a database
// file behind its back, as an older or newer apistore would have left it.

// TestNewerSchemaRefused: a database a newer apistore has migrated is not
// opened, and is left as it was.
func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apistore.db")
	d, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9000, '9000_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err = sqlite.Open(path)
	if err == nil {
		d.Close()
		t.Fatal("a database of a newer schema was opened")
	}
	if !errors.Is(err, sqlite.ErrNewerSchema) || !strings.Contains(err.Error(), "9000_future.sql") {
		t.Errorf("error %q does not say the database is newer, naming its migration", err)
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the refused database file changed (%v)", err)
	}
	if wal, err := os.ReadFile(path + "-wal"); err == nil && len(wal) > 0 {
		t.Errorf("the refused database has %d bytes of WAL waiting to be checkpointed into it", len(wal))
	}
}

// TestConsentMigration: an approval remembered before migration 0022 is
// still remembered, with its scopes, after it.
func TestConsentMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "apistore.db")
	d, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	alice := fixture.User(t, d, "alice", "alice-password")
	key, _ := fixture.App(t, d, alice, "App")
	other, _ := fixture.App(t, d, alice, "Other")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Put the database back as it was before 0022, holding one remembered
	// and one plain approval.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`ALTER TABLE consents DROP COLUMN remembered_scopes`,
		`DELETE FROM schema_migrations WHERE version = 22`,
		fmt.Sprintf(`INSERT INTO consents (user_id, app_id, scopes, remember, approved_at) VALUES (%d, %d, 'read update', 1, 0), (%d, %d, 'read', 0, 0)`,
			alice.ID, key.AppID, alice.ID, other.AppID),
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	d, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got, err := d.RememberedScopes(ctx, alice.ID, key.AppID); err != nil || !slices.Equal(got, []string{"read", "update"}) {
		t.Errorf("remembered approval after migrating: %v, %v", got, err)
	}
	if _, err := d.RememberedScopes(ctx, alice.ID, other.AppID); !errors.Is(err, portal.ErrNotFound) {
		t.Errorf("plain approval remembered after migrating: %v", err)
	}
}

// TestSearchIndexesOlderAPIs: APIs made before the search index existed
// (migration 0076) are indexed when the store opens.
func TestSearchIndexesOlderAPIs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apistore.db")
	d, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SeedSample(t.Context()); err != nil {
		t.Fatal(err)
	}
	d.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`DELETE FROM api_search; DELETE FROM api_sort`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	d, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	page, err := d.SearchAPIs(t.Context(), portal.SearchQuery{Text: "pizza menu"})
	if err != nil || len(page.APIs) != 1 || page.APIs[0].Name != "PizzaShackAPI" {
		t.Errorf("after reopening: %+v, %v", page, err)
	}
}
