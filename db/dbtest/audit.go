package dbtest

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/portal"
)

func testAudit(t *testing.T, s *suite) {
	t.Run("events read back newest first, at most the limit", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		var events []*portal.AuditEvent
		for i, ev := range []string{portal.AuditLoginFailed, portal.AuditKeysGenerated, portal.AuditConsentRevoked} {
			e := &portal.AuditEvent{At: t0.Add(time.Duration(i) * time.Second), Event: ev, Username: "alice", Client: "ck",
				Remote: "192.0.2.1", Detail: "detail " + ev}
			if err := d.RecordAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
			events = append(events, e)
		}
		got, err := d.AuditEvents(ctx, portal.AuditQuery{Limit: 2})
		if err != nil || len(got) != 2 {
			t.Fatalf("AuditEvents: %+v, %v", got, err)
		}
		for i, want := range []*portal.AuditEvent{events[2], events[1]} {
			if g := got[i]; g.ID == 0 || g.Event != want.Event || !g.At.Equal(want.At) || g.Username != want.Username ||
				g.Client != want.Client || g.Remote != want.Remote || g.Detail != want.Detail {
				t.Errorf("event %d: %+v, want %+v", i, g, want)
			}
		}
		if got[0].ID <= got[1].ID {
			t.Errorf("ids %d, %d: the newer event has the lower id", got[0].ID, got[1].ID)
		}
	})

	t.Run("a limit of zero or less lists the latest 200", func(t *testing.T) {
		d := s.store(t)
		for i := range portal.AuditListingSize + 1 {
			if err := d.RecordAudit(t.Context(), &portal.AuditEvent{At: t0, Event: portal.AuditLogin, Detail: strings.Repeat("x", i%3)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, limit := range []int{0, -1} {
			if got, err := d.AuditEvents(t.Context(), portal.AuditQuery{Limit: limit}); err != nil || len(got) != portal.AuditListingSize {
				t.Errorf("limit %d: %d events, %v; want %d", limit, len(got), err, portal.AuditListingSize)
			}
		}
	})

	t.Run("a query filters by event, user, client and time, and pages by id", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		for i, e := range []portal.AuditEvent{
			{Event: portal.AuditLoginFailed, Username: "alice", Client: "ck-1"},
			{Event: portal.AuditLoginFailed, Username: "bob", Client: "ck-2"},
			{Event: portal.AuditLogin, Username: "Alice", Client: "ck-1"},
			{Event: portal.AuditLoginFailed, Username: "alice", Client: "ck-2"},
			{Event: portal.AuditLogin, Username: "bob", Client: "ck-1"},
		} {
			e.At = t0.Add(time.Duration(i) * time.Minute)
			e.Detail = fmt.Sprint(i)
			if err := d.RecordAudit(ctx, &e); err != nil {
				t.Fatal(err)
			}
		}
		details := func(q portal.AuditQuery) string {
			t.Helper()
			got, err := d.AuditEvents(ctx, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			var out []string
			for _, e := range got {
				out = append(out, e.Detail)
			}
			return strings.Join(out, " ")
		}
		all, err := d.AuditEvents(ctx, portal.AuditQuery{})
		if err != nil || len(all) != 5 {
			t.Fatalf("all: %d, %v", len(all), err)
		}
		for _, tt := range []struct {
			name string
			q    portal.AuditQuery
			want string
		}{
			{"everything", portal.AuditQuery{}, "4 3 2 1 0"},
			{"an event", portal.AuditQuery{Event: portal.AuditLoginFailed}, "3 1 0"},
			{"a user, in any case", portal.AuditQuery{Username: "ALICE"}, "3 2 0"},
			{"a client", portal.AuditQuery{Client: "ck-2"}, "3 1"},
			{"all three", portal.AuditQuery{Event: portal.AuditLoginFailed, Username: "alice", Client: "ck-1"}, "0"},
			{"since", portal.AuditQuery{Since: t0.Add(2 * time.Minute)}, "4 3 2"},
			{"until, excluded", portal.AuditQuery{Until: t0.Add(2 * time.Minute)}, "1 0"},
			{"a range", portal.AuditQuery{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, "2 1"},
			{"a page", portal.AuditQuery{Limit: 2}, "4 3"},
			{"the next page", portal.AuditQuery{Limit: 2, BeforeID: all[1].ID}, "2 1"},
			{"the next page of a filter", portal.AuditQuery{Username: "alice", BeforeID: all[1].ID}, "2 0"},
			{"nothing matches", portal.AuditQuery{Event: "no_such_event"}, ""},
		} {
			if got := details(tt.q); got != tt.want {
				t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
			}
		}
	})

	t.Run("fields are kept as Clipped makes them", func(t *testing.T) {
		d := s.store(t)
		for _, tt := range []struct {
			name  string
			value string
		}{
			{"NUL bytes", "ali\x00ce"},
			{"invalid UTF-8", "ali\xffce\xc3"},
			{"a long value", strings.Repeat("x", 5000)},
			{"a long value of two-byte characters", strings.Repeat("é", 150)},
			{"a long value of four-byte characters", strings.Repeat("😀", 60)},
			{"plain text", "alice"},
		} {
			e := &portal.AuditEvent{At: t0, Event: portal.AuditLoginFailed, Username: tt.value, Client: tt.value, Remote: tt.value, Detail: tt.value}
			if err := d.RecordAudit(t.Context(), e); err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			got := latestEvent(t, d)
			want := e.Clipped()
			if got.Username != want.Username || got.Client != want.Client || got.Remote != want.Remote || got.Detail != want.Detail {
				t.Errorf("%s: stored %q, want %q", tt.name, got.Username, want.Username)
			}
			if !utf8.ValidString(got.Username) || strings.ContainsRune(got.Username, 0) || len(got.Username) > 200 {
				t.Errorf("%s: stored %q is not clipped", tt.name, got.Username)
			}
		}
	})

	t.Run("DeleteAuditBefore removes the events before a time", func(t *testing.T) {
		d := s.store(t)
		ctx := t.Context()
		for i := range 4 {
			if err := d.RecordAudit(ctx, &portal.AuditEvent{At: t0.Add(time.Duration(i) * time.Second), Event: portal.AuditLogin}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := d.DeleteAuditBefore(ctx, t0.Add(2*time.Second)); err != nil || n != 2 {
			t.Errorf("DeleteAuditBefore: %d, %v; want 2", n, err)
		}
		got, err := d.AuditEvents(ctx, portal.AuditQuery{})
		if err != nil || len(got) != 2 || !got[1].At.Equal(t0.Add(2*time.Second)) {
			t.Errorf("left: %+v, %v", got, err)
		}
		if n, err := d.DeleteAuditBefore(ctx, t0.Add(2*time.Second)); err != nil || n != 0 {
			t.Errorf("again: %d, %v; want 0", n, err)
		}
	})
}

// latestEvent returns the newest audit event.
func latestEvent(t testing.TB, d db.Store) portal.AuditEvent {
	t.Helper()
	got, err := d.AuditEvents(t.Context(), portal.AuditQuery{Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("AuditEvents: %+v, %v", got, err)
	}
	return got[0]
}
