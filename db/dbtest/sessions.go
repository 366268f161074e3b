package dbtest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/apistore/apistore/db"
	"github.com/apistore/apistore/oauth"
)

func testSessions(t *testing.T, s *suite) {
	t.Run("a session is its user's until it expires or ends, on every node", func(t *testing.T) {
		d, again := s.open(t)
		other := again(t)
		ctx := t.Context()
		alice := user(t, d, "alice", "admin")
		first, second := oauth.HashOf(oauth.NewSecret()), oauth.HashOf(oauth.NewSecret())
		for _, id := range []oauth.Hash{first, second} {
			if err := d.CreateSession(ctx, id, alice.ID, t0, t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			name  string
			at    time.Time
			found bool
		}{
			{"when created", t0, true},
			{"a moment before it expires", t0.Add(time.Hour - time.Millisecond), true},
			{"when it expires", t0.Add(time.Hour), false},
			{"after it expired", t0.Add(2 * time.Hour), false},
		} {
			for i, h := range []db.Store{d, other} {
				u, err := h.SessionUser(ctx, first, tt.at)
				if !tt.found {
					mustNotFound(t, fmt.Sprintf("%s, handle %d", tt.name, i), u, err)
					continue
				}
				if err != nil || u.ID != alice.ID || u.Username != "alice" || !sameWords(u.Roles, []string{"admin"}) {
					t.Errorf("%s, handle %d: %+v, %v", tt.name, i, u, err)
				}
			}
		}
		if err := other.DeleteSession(ctx, first); err != nil {
			t.Fatal(err)
		}
		u, err := d.SessionUser(ctx, first, t0)
		mustNotFound(t, "the ended session", u, err)
		if u, err := d.SessionUser(ctx, second, t0); err != nil || u.ID != alice.ID {
			t.Errorf("alice's other session: %+v, %v", u, err)
		}
		if err := d.DeleteSession(ctx, oauth.HashOf("unknown")); err != nil {
			t.Errorf("ending an unknown session: %v", err)
		}
	})
}

func testSessionKeys(t *testing.T, s *suite) {
	t.Run("the first keys stored are everyone's", func(t *testing.T) {
		d := s.store(t)
		first := []byte("first candidate, 64 bytes of keys would be here.................")
		for i, candidate := range [][]byte{first, []byte("second candidate")} {
			got, err := d.SessionKeys(t.Context(), candidate)
			if err != nil || !bytes.Equal(got, first) {
				t.Errorf("call %d: %q, %v; want the first candidate", i, got, err)
			}
		}
	})

	t.Run("concurrent callers on two nodes get the same keys", func(t *testing.T) {
		d, again := s.open(t)
		handles := []db.Store{d, again(t)}
		got := make([][]byte, 16)
		errs := make([]error, len(got))
		together(len(got), func(i int) {
			got[i], errs[i] = handles[i%2].SessionKeys(t.Context(), fmt.Appendf(nil, "candidate %d", i))
		})
		for i := range got {
			if errs[i] != nil {
				t.Fatalf("caller %d: %v", i, errs[i])
			}
			if !bytes.Equal(got[i], got[0]) {
				t.Errorf("caller %d got %q, caller 0 %q", i, got[i], got[0])
			}
		}
		if !bytes.HasPrefix(got[0], []byte("candidate ")) {
			t.Errorf("keys %q are no caller's candidate", got[0])
		}
	})
}
